"""ProMetaR's Step B gradient on a tiny float64 CLIP: finite differences, first-order formula.

The episode is fixed (held-out class, mixup partners, lam) so the outer loss is a deterministic
function of the prompts and the gate. The inner learning rate is large and the gate's weights
are scaled up (gamma spread over (0, 1)) so the second-order and gate terms are not negligible:
the first-order gradient visibly differs from the second-order one.
"""
from __future__ import annotations

import pytest
import torch

from metaprompt.clip import build_tiny_clip, double_precision
from metaprompt.learners import IVLPLearner, MaPLeLearner, PromptedCLIP
from metaprompt.meta.gate import GradientGate
from metaprompt.meta.prometar import Episode, ProMetaR, ProMetaRSettings
from metaprompt.meta.regularizers import text_teacher

from finite_differences import central_difference

# The outer loss holds L1 regularizers: along a random direction a kink lies within ~1e-5, so the
# step stays at 1e-6 (a wider one straddles a kink and measures nothing), with one thread.
FD_STEP = 1e-6

CLASSNAMES = ["red circle", "green square", "blue triangle"]
EPISODE = Episode(query=torch.tensor([1, 3]), support=torch.tensor([0, 2]),
                  lam=torch.tensor([0.3, 0.8], dtype=torch.float64), mix=torch.tensor([1, 0]))

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: restored afterwards



def build(base: str, first_order: bool) -> tuple[ProMetaR, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    clip_model = double_precision(build_tiny_clip(vision_layers=2, transformer_layers=2))
    clip_model.requires_grad_(False)
    if base == "IVLP":
        learner = IVLPLearner(clip_model.token_embedding, 64, n_ctx_text=2, n_ctx_vision=2, depth_text=2,
                              depth_vision=2)
    else:
        learner = MaPLeLearner(clip_model.token_embedding, 64, n_ctx=2, depth=2)
    model = PromptedCLIP(clip_model, learner.double(), CLASSNAMES)
    gate = GradientGate(learner.prompts, learner.specs, rate=4).double()
    settings = ProMetaRSettings(adapt_lr=0.3, first_order=first_order)
    method = ProMetaR(model, gate, text_teacher(model, CLASSNAMES), settings)
    images = torch.randn(4, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 1])
    spread_gamma(method, images, labels)
    return method, images, labels


def support_gradients(method, images, labels):
    support, params = EPISODE.support, method.prompts()
    losses = method.losses(images[support], labels[support], params)
    g_reg = method.regularizer_gradients(losses.reg, params)
    g_ce = dict(zip(params, torch.autograd.grad(losses.ce, list(params.values()))))
    return g_ce, g_reg


def spread_gamma(method, images, labels) -> None:
    """Scale each gate MLP so that its pre-activation at the support gradients has std 1.5.

    At its random init the gate sees tiny gradients and answers gamma ~ 0.5 everywhere, where
    it is nearly linear; spreading gamma over (0, 1) makes the check exercise the sigmoid.
    """
    g_ce, g_reg = support_gradients(method, images, labels)
    with torch.no_grad():
        for name, mlp in method.gate.mlps.items():
            x = torch.cat([g_ce[name].reshape(-1, mlp.unit), g_reg[name].reshape(-1, mlp.unit)], dim=1)
            mlp.up.weight.mul_(1.5 / mlp.up(mlp.down(x)).std())


def groups(method: ProMetaR) -> dict[str, list[torch.Tensor]]:
    return {"prompts": list(method.model.prompt_learner.prompts.values()), "gate": list(method.gate.parameters())}


def check_against_fd(method, loss_fn, grads: dict[str, list[torch.Tensor]], n_directions: int = 3) -> None:
    gen = torch.Generator().manual_seed(2)
    for name, params in groups(method).items():
        for _ in range(n_directions):
            direction = [torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in params]
            analytic = sum((g * d).sum() for g, d in zip(grads[name], direction)).item()
            numeric = central_difference(loss_fn, params, direction, FD_STEP)
            assert numeric == pytest.approx(analytic, rel=1e-5, abs=1e-10), name


def support_gammas(method, images, labels) -> dict[str, torch.Tensor]:
    g_ce, g_reg = support_gradients(method, images, labels)
    with torch.no_grad():
        return method.gate.gammas(g_ce, g_reg)


def autograd_grads(method, loss) -> dict[str, list[torch.Tensor]]:
    flat = [p for params in groups(method).values() for p in params]
    grads = torch.autograd.grad(loss, flat)
    n = len(groups(method)["prompts"])
    return {"prompts": list(grads[:n]), "gate": list(grads[n:])}


@pytest.mark.parametrize("base", ["IVLP", "MaPLe"])
def test_second_order_outer_gradient_matches_central_differences(base):
    method, images, labels = build(base, first_order=False)
    gamma = torch.cat([g.flatten() for g in support_gammas(method, images, labels).values()])
    saturated = ((gamma < 0.01) | (gamma > 0.99)).double().mean()
    assert gamma.std() > 0.1 and saturated < 0.05  # spread over (0, 1), mostly off the flat tails
    loss_fn = lambda: method.meta_loss(images, labels, EPISODE)  # noqa: E731
    grads = autograd_grads(method, loss_fn())
    assert all(g.abs().max() > 0 for g in grads["gate"]), "every gate MLP must get a gradient"
    check_against_fd(method, loss_fn, grads)

    # Not a vacuous check: the first-order gradient of the prompts is clearly different here.
    first, _, _ = build(base, first_order=True)
    first_grads = autograd_grads(first, first.meta_loss(images, labels, EPISODE))
    diff = sum((a - b).norm() for a, b in zip(grads["prompts"], first_grads["prompts"]))
    assert diff > 1e-3 * sum(g.norm() for g in grads["prompts"])


@pytest.mark.parametrize("base", ["IVLP", "MaPLe"])
def test_first_order_gradient_is_the_query_gradient_at_the_adapted_prompts(base):
    method, images, labels = build(base, first_order=True)
    grads = autograd_grads(method, method.meta_loss(images, labels, EPISODE))

    # The formula: d L_q / d theta = (d L_q / d theta')(theta') (the inner step's Jacobian is dropped).
    params = method.prompts()
    adapted = method.adapt(images[EPISODE.support], labels[EPISODE.support], params)
    leaves = {n: t.detach().clone().requires_grad_(True) for n, t in adapted.items()}
    expected = torch.autograd.grad(method.query_loss(images, labels, EPISODE, leaves), list(leaves.values()))
    for got, want in zip(grads["prompts"], expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-14)

    # The gate's gradient is exact in first order too (the support gradients do not depend on it).
    gen = torch.Generator().manual_seed(3)
    gate_params = groups(method)["gate"]
    direction = [torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in gate_params]
    analytic = sum((g * d).sum() for g, d in zip(grads["gate"], direction)).item()
    numeric = central_difference(lambda: method.meta_loss(images, labels, EPISODE), gate_params, direction, FD_STEP)
    assert numeric == pytest.approx(analytic, rel=1e-5)
