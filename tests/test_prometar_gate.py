"""The gate's architecture (the release's MLP, per-row coupling gates) and the frozen-CLIP teachers."""
from __future__ import annotations

import clip
import torch
import torch.nn.functional as F

from metaprompt.clip import build_tiny_clip
from metaprompt.learners import IVLPLearner, PromptedCLIP, PromptSpec
from metaprompt.meta.gate import GradientGate, gamma_statistics
from metaprompt.meta.regularizers import text_teacher
from metaprompt.clip.templates import IMAGENET_TEMPLATES


def ivlp_shapes(n_ctx_text=4, n_ctx_vision=4, depth=9, text_width=512, vision_width=768):
    prompts, specs = {}, {}
    for i in range(depth):
        for modality, n, width in (("text", n_ctx_text, text_width), ("vision", n_ctx_vision, vision_width)):
            name = f"{modality}_{i}"
            prompts[name] = torch.empty(n, width, device="meta")
            specs[name] = PromptSpec(name, modality, i)
    return prompts, specs


def test_gate_size_for_vit_b16_ivlp_matches_the_release():
    gate = GradientGate(*ivlp_shapes(), rate=8).to("meta")
    text, vision = gate.mlps["text_0"], gate.mlps["vision_0"]
    assert tuple(text.down.weight.shape) == (256, 4096) and tuple(text.up.weight.shape) == (256, 256)
    assert tuple(vision.down.weight.shape) == (384, 6144) and tuple(vision.up.weight.shape) == (384, 384)
    assert text.down.bias is None and text.up.bias is None
    assert sum(p.numel() for p in gate.parameters()) == 32_587_776  # "about 32.6M" for 4+4, depth 9


def test_gamma_gates_rate_consecutive_elements_and_modulates_the_regularizer_gradient():
    torch.manual_seed(0)
    prompts, specs = ivlp_shapes(n_ctx_text=2, n_ctx_vision=2, depth=1, text_width=16, vision_width=24)
    gate = GradientGate(prompts, specs, rate=4)
    g_ce = {n: torch.randn(p.shape) for n, p in prompts.items()}
    g_reg = {n: torch.randn(p.shape) for n, p in prompts.items()}
    g_mod, gamma = gate(g_ce, g_reg)
    for name, mlp in gate.mlps.items():
        flat = gamma[name].flatten()
        blocks = flat.reshape(-1, 4)
        assert torch.equal(blocks, blocks[:, :1].expand(-1, 4))  # one value per 4 consecutive elements
        x = torch.cat([g_ce[name].flatten(), g_reg[name].flatten()])
        torch.testing.assert_close(blocks[:, 0], torch.sigmoid(mlp.up.weight @ (mlp.down.weight @ x)))
        torch.testing.assert_close(g_mod[name], g_ce[name] + gamma[name] * g_reg[name])
    stats = gamma_statistics(gamma, specs)
    assert set(stats) == {"gamma_text_mean", "gamma_text_std", "gamma_vision_mean", "gamma_vision_std"}
    torch.testing.assert_close(torch.tensor(stats["gamma_text_mean"]), gamma["text_0"].mean())


def test_coupling_weight_is_gated_per_row_with_one_shared_mlp():
    torch.manual_seed(0)
    prompts = {"coupling_0_weight": torch.zeros(6, 8), "coupling_0_bias": torch.zeros(6)}
    specs = {n: PromptSpec(n, "coupling", 0) for n in prompts}
    gate = GradientGate(prompts, specs, rate=2)
    assert gate.mlps["coupling_0_weight"].unit == 8 and gate.mlps["coupling_0_bias"].unit == 6
    g_ce = {n: torch.randn(p.shape) for n, p in prompts.items()}
    g_reg = {n: torch.randn(p.shape) for n, p in prompts.items()}
    gamma = gate.gammas(g_ce, g_reg)["coupling_0_weight"]
    changed = {n: g.clone() for n, g in g_ce.items()}
    changed["coupling_0_weight"][3] += 1.0  # a different gradient in row 3 only
    gamma_changed = gate.gammas(changed, g_reg)["coupling_0_weight"]
    rows_changed = (gamma != gamma_changed).any(dim=1)
    assert rows_changed.tolist() == [False, False, False, True, False, False]


def test_gate_size_for_vit_b16_maple_stays_small():
    from metaprompt.learners import MaPLeLearner

    clip_model = build_tiny_clip(transformer_width=512, vision_width=768, transformer_layers=1, vision_layers=1)
    learner = MaPLeLearner(clip_model.token_embedding, 768, n_ctx=2, depth=9)
    gate = GradientGate(learner.prompts, learner.specs, rate=8).to("meta")
    weight, bias = gate.mlps["coupling_0_weight"], gate.mlps["coupling_0_bias"]
    assert tuple(weight.down.weight.shape) == (64, 1024)  # one row of 512, not 393,216 values
    assert tuple(bias.down.weight.shape) == (96, 1536)
    assert sum(p.numel() for p in gate.parameters()) < 5_000_000


def test_text_teacher_is_the_normalised_template_mean_of_clips_own_text_encoder():
    clip_model = build_tiny_clip()
    learner = IVLPLearner(clip_model.token_embedding, 64, depth_text=1, depth_vision=1)
    names = ["red circle", "green_square"]
    model = PromptedCLIP(clip_model, learner, names)
    teacher = text_teacher(model, names, chunk=7)  # chunks that split a class's templates
    assert len(IMAGENET_TEMPLATES) == 60
    with torch.no_grad():
        for i, name in enumerate(["red circle", "green square"]):
            features = clip_model.encode_text(clip.tokenize([t.format(name) for t in IMAGENET_TEMPLATES]))
            torch.testing.assert_close(teacher[i], F.normalize(features.mean(dim=0), dim=-1), rtol=1e-5, atol=1e-6)


def test_normalize_gradients_gives_unit_rms_and_leaves_zero_gradients_alone():
    from metaprompt.meta.gate import normalize_gradients

    module = torch.nn.Linear(3, 4)
    module.weight.grad = torch.full((4, 3), 1e-9)
    module.bias.grad = torch.zeros(4)
    normalize_gradients(module)
    torch.testing.assert_close(module.weight.grad, torch.ones(4, 3))
    assert torch.equal(module.bias.grad, torch.zeros(4))
