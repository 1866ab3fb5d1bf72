"""Where prompt tokens go, in both towers, for every learner: pinned against hand-built tensors.

Hooks on each residual block's submodules capture its input and output. At a
prompted layer the prompt rows must equal the expected prompt tensor (deep prompts *replace* the
previous layer's prompt tokens) and every other row must be what the previous block produced;
past the prompt depth the whole input is the previous output. Prompts are passed as ``params``
overrides, so the override path is what gets pinned.
"""
from __future__ import annotations

import clip
import pytest
import torch
import torch.nn.functional as F

from metaprompt.clip import build_tiny_clip
from metaprompt.learners import (CoOpLearner, HandCraftedPrompts, IVLPLearner, MaPLeLearner, PromptedCLIP,
                                 VPTLearner)

CLASSNAMES = ["red circle", "blue_square", "green triangle"]
LAYERS, DEPTH = 4, 3  # a prompt depth below the layer count, so un-prompted layers are checked too
TEXT_W, VISION_W = 48, 64  # different widths catch a prompt sent to the wrong tower


@pytest.fixture(scope="module")
def clip_model():
    return build_tiny_clip(transformer_layers=LAYERS, vision_layers=LAYERS, transformer_width=TEXT_W,
                           vision_width=VISION_W)


LEARNERS = {
    "CoOp": lambda m: CoOpLearner(m.token_embedding, len(CLASSNAMES), n_ctx=4),
    "VPT": lambda m: VPTLearner(m.token_embedding, VISION_W, n_ctx_vision=3, depth_vision=DEPTH),
    "IVLP": lambda m: IVLPLearner(m.token_embedding, VISION_W, n_ctx_text=4, n_ctx_vision=2, depth_text=DEPTH,
                                  depth_vision=DEPTH),
    "MaPLe": lambda m: MaPLeLearner(m.token_embedding, VISION_W, n_ctx=2, depth=DEPTH),
    "ZeroshotCLIP": lambda m: HandCraftedPrompts(),
}


class BlockRecorder:
    """Inputs and outputs (LND) of every residual block of a transformer.

    Recorded from the block's own submodules (``ln_1``'s input is the block's input; its output is
    ``ln_2``'s input plus ``mlp``'s output), so a block run step by step, as the text encoder runs
    it on a sequence shorter than CLIP's mask, is recorded like one called whole.
    """

    def __init__(self, blocks) -> None:
        self.inputs, self.outputs, self._handles, self._mid = [], [], [], []
        for block in blocks:
            self._handles += [
                block.ln_1.register_forward_pre_hook(lambda mod, args: self.inputs.append(args[0].detach())),
                block.ln_2.register_forward_pre_hook(lambda mod, args: self._mid.append(args[0].detach())),
                block.mlp.register_forward_hook(lambda mod, args, out: self.outputs.append(self._mid[-1] + out.detach())),
            ]

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def fresh_params(learner, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {name: torch.randn(p.shape, generator=g) for name, p in learner.prompts.items()}


def run_towers(clip_model, learner, params, images):
    model = PromptedCLIP(clip_model, learner, CLASSNAMES)
    text_rec = BlockRecorder(clip_model.transformer.resblocks)
    vision_rec = BlockRecorder(clip_model.visual.transformer.resblocks)
    try:
        with torch.no_grad():
            text = model.encode_text(params)
            image = model.encode_image(images, params)
    finally:
        text_rec.remove()
        vision_rec.remove()
    return text_rec, vision_rec, text, image


def expected_text_prompts(name: str, learner, p: dict) -> tuple[int, list]:
    """(n_ctx, [prompt for layer i or None]) in the text tower."""
    if name == "CoOp":
        return 4, [p["text_ctx"]] + [None] * (LAYERS - 1)
    if name in ("IVLP", "MaPLe"):
        deep = [p[f"text_deep_{i}"] for i in range(1, DEPTH)]
        return p["text_ctx"].shape[0], [p["text_ctx"]] + deep + [None] * (LAYERS - DEPTH)
    return 0, [None] * LAYERS  # hand-crafted text: VPT, ZeroshotCLIP


def expected_vision_prompts(name: str, p: dict) -> list:
    """Per layer: the visual prompt tokens (n, width) fed at that layer's input, or None."""
    if name in ("VPT", "IVLP"):
        return [p["vision_ctx"]] + [p[f"vision_deep_{i}"] for i in range(1, DEPTH)] + [None] * (LAYERS - DEPTH)
    if name == "MaPLe":  # coupled: a linear map of the same layer's text prompt, computed by hand
        text = [p["text_ctx"]] + [p[f"text_deep_{i}"] for i in range(1, DEPTH)]
        maps = [text[i] @ p[f"coupling_{i}_weight"].T + p[f"coupling_{i}_bias"] for i in range(DEPTH)]
        return maps + [None] * (LAYERS - DEPTH)
    return [None] * LAYERS


def hand_prompt_tokens(prefix: str) -> torch.Tensor:
    return torch.cat([clip.tokenize(f"{prefix} {c.replace('_', ' ')}.") for c in CLASSNAMES])


@pytest.mark.parametrize("name", list(LEARNERS))
def test_text_prompts_go_after_sos_and_deep_prompts_replace_them(clip_model, name):
    learner = LEARNERS[name](clip_model)
    p = fresh_params(learner)
    rec, _, text, _ = run_towers(clip_model, learner, p, torch.randn(2, 3, 32, 32))
    n, prompts = expected_text_prompts(name, learner, p)
    assert len(rec.inputs) == LAYERS

    # Layer 0: the tokens of "a photo of a {class}." with rows 1..n swapped for the context.
    tokens = hand_prompt_tokens("a photo of a")
    emb = clip_model.token_embedding(tokens).detach().clone()
    if n:
        emb[:, 1:1 + n] = prompts[0]
    expected0 = (emb + clip_model.positional_embedding).permute(1, 0, 2)
    expected0 = expected0[: int(tokens.argmax(-1).max()) + 1]  # the encoder stops at the last EOT
    torch.testing.assert_close(rec.inputs[0], expected0, rtol=0, atol=1e-6)

    for i in range(1, LAYERS):
        x, previous = rec.inputs[i], rec.outputs[i - 1]
        if prompts[i] is None:
            assert torch.equal(x, previous), f"layer {i} input must be layer {i - 1}'s output"
            continue
        assert torch.equal(x[1:1 + n], prompts[i].unsqueeze(1).expand(-1, len(CLASSNAMES), -1)), f"layer {i}"
        assert torch.equal(x[:1], previous[:1]) and torch.equal(x[1 + n:], previous[1 + n:]), f"layer {i}"

    # The feature is CLIP's: ln_final at the EOT token of the last block's output, projected.
    last = rec.outputs[-1].permute(1, 0, 2)
    expected = clip_model.ln_final(last)[torch.arange(len(CLASSNAMES)), tokens.argmax(-1)] @ clip_model.text_projection
    torch.testing.assert_close(text, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", list(LEARNERS))
def test_visual_prompts_follow_cls_and_patches_and_deep_prompts_replace_them(clip_model, name):
    learner = LEARNERS[name](clip_model)
    p = fresh_params(learner)
    images = torch.randn(2, 3, 32, 32)
    _, rec, _, image = run_towers(clip_model, learner, p, images)
    prompts = expected_vision_prompts(name, p)
    n = 0 if prompts[0] is None else prompts[0].shape[0]
    v = clip_model.visual
    assert len(rec.inputs) == LAYERS

    # Layer 0: [CLS, patches] + positional embedding, then the prompts, all through ln_pre.
    patches = v.conv1(images).flatten(2).transpose(1, 2)
    tokens = torch.cat([v.class_embedding.expand(2, 1, -1), patches], dim=1) + v.positional_embedding
    n_img = tokens.shape[1]
    x0 = rec.inputs[0]
    assert x0.shape[0] == n_img + n
    torch.testing.assert_close(x0[:n_img], v.ln_pre(tokens).permute(1, 0, 2), rtol=0, atol=1e-5)
    if n:
        torch.testing.assert_close(x0[n_img:], v.ln_pre(prompts[0]).unsqueeze(1).expand(-1, 2, -1), rtol=0, atol=1e-5)

    for i in range(1, LAYERS):
        x, previous = rec.inputs[i], rec.outputs[i - 1]
        if prompts[i] is None:
            assert torch.equal(x, previous), f"layer {i} input must be layer {i - 1}'s output"
            continue
        torch.testing.assert_close(x[n_img:], prompts[i].unsqueeze(1).expand(-1, 2, -1), rtol=0, atol=1e-6)
        assert torch.equal(x[:n_img], previous[:n_img]), f"layer {i}: image tokens must flow on"

    # The feature is CLIP's: ln_post of the CLS token of the last block's output, projected.
    expected = v.ln_post(rec.outputs[-1][0]) @ v.proj
    torch.testing.assert_close(image, expected, rtol=0, atol=1e-6)


def test_maple_visual_prompts_follow_the_text_prompts(clip_model):
    """Changing a text prompt changes the coupled visual prompt of that layer (and only that one)."""
    learner = MaPLeLearner(clip_model.token_embedding, VISION_W, n_ctx=2, depth=DEPTH)
    p = fresh_params(learner)
    base = learner.vision_inputs(p)
    changed = learner.vision_inputs({**p, "text_deep_2": p["text_deep_2"] + 1.0})
    assert torch.equal(base.shallow, changed.shallow) and torch.equal(base.deep[1], changed.deep[1])
    expected_delta = F.linear(torch.ones(2, TEXT_W), p["coupling_2_weight"])
    torch.testing.assert_close(changed.deep[2] - base.deep[2], expected_delta, rtol=1e-5, atol=1e-5)
