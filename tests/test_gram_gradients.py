"""GRAM's meta-gradients against central finite differences, on a float64 tiny CLIP.

The meta-loss is ``CE(query; theta - alpha * R_phi(g(theta)))``. First order (the default):
``g`` is a constant, and phi's gradient must still be exact. Second order: theta's and phi's
gradients are exact through ``g(theta)`` and two inner steps.
"""
import pytest
import torch

from metaprompt.clip import build_tiny_clip, double_precision
from metaprompt.learners import CoOpLearner, IVLPLearner, MaPLeLearner, PromptedCLIP
from metaprompt.meta import double_backward_attention
from metaprompt.meta.gram.objective import InnerLoop, episode_loss
from metaprompt.meta.gram.regulator import Regulator, RegulatorConfig

from finite_differences import directional_derivative

NAMES = ["red circle", "blue square", "green triangle"]


def build(learner_kind: str):
    torch.manual_seed(0)
    clip_model = double_precision(build_tiny_clip(vision_layers=2, transformer_layers=2))
    for p in clip_model.parameters():
        p.requires_grad_(False)
    emb = clip_model.token_embedding
    if learner_kind == "CoOp":
        learner = CoOpLearner(emb, 3, n_ctx=2)
    elif learner_kind == "IVLP":
        learner = IVLPLearner(emb, 64, n_ctx_text=2, n_ctx_vision=2, depth_text=2, depth_vision=2)
    else:
        learner = MaPLeLearner(emb, 64, n_ctx=2, depth=2)
    model = PromptedCLIP(clip_model, learner.double(), NAMES)
    gen = torch.Generator().manual_seed(1)
    if learner_kind == "CoOp":  # text-only learners meta-train on frozen image features
        make = lambda n: torch.randn(n, 32, generator=gen, dtype=torch.float64)  # noqa: E731
    else:
        make = lambda n: torch.randn(n, 3, 32, 32, generator=gen, dtype=torch.float64)  # noqa: E731
    support = (make(6), torch.tensor([0, 0, 1, 1, 2, 2]))
    query = (make(6), torch.tensor([0, 1, 2, 0, 1, 2]))
    return model, support, query


def regulator_for(model, config: RegulatorConfig) -> Regulator:
    learner = model.prompt_learner
    reg = Regulator(config, {n: p.shape for n, p in learner.prompts.items()}, learner.specs, task_dim=32).double()
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():  # move away from the identity init so every parameter matters
        for p in reg.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return reg


def directional_check(loss_fn, tensors, grads, n_dirs=2):
    """``<grad, d>`` against a finite difference along random unit directions ``d``."""
    gen = torch.Generator().manual_seed(3)
    for _ in range(n_dirs):
        dirs = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in tensors]
        norm = torch.sqrt(sum((d * d).sum() for d in dirs))
        dirs = [d / norm for d in dirs]
        analytic = sum((g * d).sum() for g, d in zip(grads, dirs)).item()
        numeric = directional_derivative(loss_fn, tensors, dirs)  # the inner step needs autograd on
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-10), (analytic, numeric)
        assert abs(analytic) > 1e-6  # the direction actually moves the loss


CONFIGS = {
    "gate": RegulatorConfig(),
    "gate_task_modality": RegulatorConfig(task_cond=True, share="modality"),
    "elementwise": RegulatorConfig(kind="elementwise"),
    "lowrank_modality": RegulatorConfig(kind="lowrank", rank=3, share="modality"),
}


@pytest.mark.parametrize("learner_kind,config_name", [("CoOp", "gate"), ("IVLP", "gate"), ("IVLP", "gate_task_modality"),
                                                      ("IVLP", "elementwise"), ("MaPLe", "lowrank_modality")])
def test_first_order_regulator_meta_gradient_matches_finite_differences(learner_kind, config_name):
    model, support, query = build(learner_kind)
    reg = regulator_for(model, CONFIGS[config_name])
    task = torch.randn(32, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    inner = InnerLoop(lr=2.0, steps=1, first_order=True)
    params = dict(model.prompt_learner.prompts)

    def loss_fn():
        return episode_loss(model, params, reg, support, query, inner, task)[0]

    phi = list(reg.parameters())
    grads = torch.autograd.grad(loss_fn(), phi)
    directional_check(loss_fn, phi, grads)


def test_second_order_prompt_and_regulator_meta_gradients_match_finite_differences():
    model, support, query = build("IVLP")
    reg = regulator_for(model, CONFIGS["gate_task_modality"])
    task = torch.randn(32, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    inner = InnerLoop(lr=2.0, steps=2, first_order=False)
    params = dict(model.prompt_learner.prompts)

    def loss_fn():
        with double_backward_attention():
            return episode_loss(model, params, reg, support, query, inner, task)[0]

    theta, phi = list(params.values()), list(reg.parameters())
    with double_backward_attention():
        grads = torch.autograd.grad(loss_fn(), theta + phi)
    directional_check(loss_fn, theta, grads[: len(theta)])
    directional_check(loss_fn, phi, grads[len(theta):])


def test_first_order_prompt_gradient_is_the_query_gradient_at_the_adapted_prompts():
    """FOMAML: theta's gradient is dL_query/dtheta' (the raw gradient treated as a constant)."""
    model, support, query = build("IVLP")
    reg = regulator_for(model, CONFIGS["gate"])
    inner = InnerLoop(lr=2.0, steps=1, first_order=True)
    params = dict(model.prompt_learner.prompts)
    loss, _ = episode_loss(model, params, reg, support, query, inner)
    theta = list(params.values())
    got = torch.autograd.grad(loss, theta)
    # Recompute by hand: theta' = theta - lr * R(g) with g detached, then the query gradient at theta'.
    import torch.nn.functional as F
    from metaprompt.meta.functional import prompt_grads

    g = prompt_grads(F.cross_entropy(model(support[0], params), support[1]), params)
    adapted = {n: (p - 2.0 * r).detach().requires_grad_() for (n, p), r in zip(params.items(), reg(g).values())}
    want = prompt_grads(F.cross_entropy(model(query[0], adapted), query[1]), adapted)
    for a, (n, b) in zip(got, want.items()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
