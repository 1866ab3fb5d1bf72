"""The one gradient-modulation contract: ProMetaR's gate and GRAM's regulator take named gradient
streams and return the gradients the prompts step with; one functional inner step serves both."""
from __future__ import annotations

import torch

from metaprompt.learners import PromptSpec
from metaprompt.meta.functional import GradientModulator, inner_step, loss_gradients
from metaprompt.meta.gate import GradientGate
from metaprompt.meta.gram.regulator import Regulator, RegulatorConfig


def toy_prompts() -> tuple[dict[str, torch.Tensor], dict[str, PromptSpec]]:
    gen = torch.Generator().manual_seed(0)
    prompts = {"text_0": torch.randn(2, 8, generator=gen, dtype=torch.float64).requires_grad_(True),
               "vision_0": torch.randn(2, 12, generator=gen, dtype=torch.float64).requires_grad_(True)}
    return prompts, {n: PromptSpec(n, n.split("_")[0], 0) for n in prompts}


def losses(params):  # a task loss and a regularizer, quadratic: gradients known by hand
    ce = sum((p ** 2).sum() for p in params.values()) / 2  # d/dp = p
    reg = sum(((p - 1) ** 2).sum() for p in params.values())  # d/dp = 2 (p - 1)
    return ce, reg


def streams(params, create_graph):
    ce, reg = losses(params)
    grads = [torch.autograd.grad(loss, list(params.values()), create_graph=create_graph) for loss in (ce, reg)]
    return {"ce": dict(zip(params, grads[0])), "reg": dict(zip(params, grads[1]))}


def test_gate_modulates_the_ce_and_reg_streams_and_the_inner_step_follows_it():
    prompts, specs = toy_prompts()
    gate = GradientGate(prompts, specs, rate=4).double()
    modulator: GradientModulator = gate
    adapted = inner_step(prompts, streams, lr=0.1, modulator=modulator)
    gamma = gate.last_gamma
    for n, p in prompts.items():
        by_hand = p - 0.1 * (p + gamma[n] * 2 * (p - 1))
        torch.testing.assert_close(adapted[n], by_hand, rtol=1e-12, atol=1e-12)
        assert gamma[n].min() > 0 and gamma[n].max() < 1 and not gamma[n].requires_grad
    # Second order keeps the graph through gamma: the gate's weights get a gradient from theta'.
    outer = sum(a.sum() for a in adapted.values())
    assert all(g is not None and g.abs().max() > 0
               for g in torch.autograd.grad(outer, list(gate.parameters()), allow_unused=True))


def test_first_order_detaches_every_stream_but_not_the_modulator():
    prompts, specs = toy_prompts()
    gate = GradientGate(prompts, specs, rate=4).double()
    adapted = inner_step(prompts, streams, lr=0.1, modulator=gate, first_order=True)
    outer = sum((a ** 2).sum() for a in adapted.values())
    g_prompts = torch.autograd.grad(outer, list(prompts.values()), retain_graph=True)
    gamma = gate.last_gamma
    for (n, p), g in zip(prompts.items(), g_prompts):
        torch.testing.assert_close(g, 2 * adapted[n].detach())  # d theta'/d theta = I: the streams are constants
    assert any(g.abs().max() > 0 for g in torch.autograd.grad(outer, list(gate.parameters())))
    assert set(gamma) == set(prompts)


def test_without_a_modulator_the_step_follows_the_ce_stream():
    prompts, _ = toy_prompts()
    adapted = inner_step(prompts, loss_gradients(lambda p: losses(p)[0]), lr=0.25)
    for n, p in prompts.items():
        torch.testing.assert_close(adapted[n], 0.75 * p)


def test_regulator_bound_to_a_task_is_the_same_contract():
    prompts, specs = toy_prompts()
    reg = Regulator(RegulatorConfig(task_cond=True), {n: p.shape for n, p in prompts.items()}, specs, task_dim=5)
    with torch.no_grad():
        for p in reg.parameters():
            p.add_(0.5 * torch.randn_like(p))
    reg = reg.double()
    task = torch.randn(5, dtype=torch.float64)
    grads = {n: torch.randn_like(p) for n, p in prompts.items()}
    modulator: GradientModulator = reg.for_task(task)
    out = modulator.modulate({"ce": grads})
    want = reg(grads, task)
    for n in grads:
        torch.testing.assert_close(out[n], want[n], rtol=0, atol=0)
        assert not torch.allclose(out[n], grads[n])  # it did modulate
    adapted = inner_step(prompts, loss_gradients(lambda p: losses(p)[0]), lr=0.1, modulator=modulator)
    for n, p in prompts.items():  # the "ce" stream of this loss is p itself
        torch.testing.assert_close(adapted[n], p - 0.1 * reg({n: p}, task)[n])
