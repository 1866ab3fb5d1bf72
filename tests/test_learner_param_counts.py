"""Trainable parameters for ViT-B/16 equal the published architectures.

Published: IVLP 4+4 tokens depth 9 (ProMetaR's / PromptSRC's base learner) 46,080 scalars in 18
tensors; MaPLe 2 tokens depth 9: 3.55M (2 x 512 x 9 text scalars plus nine 512 -> 768 linear maps).
"""
from __future__ import annotations

import pytest
import torch
from clip.model import CLIP

from metaprompt.clip.tiny import VIT_B16
from metaprompt.learners import (CoOpLearner, HandCraftedPrompts, IVLPLearner, MaPLeLearner, PromptedCLIP,
                                 VPTLearner)
from metaprompt.learners.cocoop import CoCoOpLearner
from metaprompt.learners.kgcoop import KgCoOpLearner
from metaprompt.learners.promptsrc import PromptSRCConfig, PromptSRCLearner

REAL_SIZES = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=16,
                  context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8,
                  transformer_layers=12)


@pytest.fixture(scope="module")
def vit_b16():
    torch.manual_seed(0)
    return CLIP(**REAL_SIZES).eval()


def count(learner) -> int:
    return sum(p.numel() for p in learner.prompts.values())


def by_modality(learner) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, spec in learner.specs.items():
        out[spec.modality] = out.get(spec.modality, 0) + learner.prompts[name].numel()
    return out


def test_the_vit_b16_random_backbone_has_the_real_sizes():
    assert VIT_B16 == REAL_SIZES


def test_ivlp_4_plus_4_depth_9_has_46080_parameters(vit_b16):
    learner = IVLPLearner(vit_b16.token_embedding, 768, n_ctx_text=4, n_ctx_vision=4, ctx_init="a photo of a",
                          depth_text=9, depth_vision=9)
    assert count(learner) == 46_080
    assert len(learner.prompts) == 18
    assert by_modality(learner) == {"text": 18_432, "vision": 27_648}


def test_maple_2_ctx_depth_9_has_3555072_parameters(vit_b16):
    learner = MaPLeLearner(vit_b16.token_embedding, 768, n_ctx=2, ctx_init="a photo of a", depth=9)
    assert count(learner) == 3_555_072
    assert by_modality(learner) == {"text": 9 * 2 * 512, "coupling": 9 * (512 * 768 + 768)}


def test_vpt_deep_and_coop_counts(vit_b16):
    assert count(VPTLearner(vit_b16.token_embedding, 768, n_ctx_vision=8, depth_vision=12)) == 8 * 768 * 12
    assert count(CoOpLearner(vit_b16.token_embedding, 50, n_ctx=16)) == 16 * 512
    assert count(CoOpLearner(vit_b16.token_embedding, 50, ctx_init="a photo of a")) == 4 * 512
    assert count(HandCraftedPrompts()) == 0


def test_only_the_learner_is_trainable_once_clip_is_frozen(vit_b16):
    """The trainer's rule (freeze all but ``prompt_learner.*``) leaves exactly the published count."""
    learner = IVLPLearner(vit_b16.token_embedding, 768)
    model = PromptedCLIP(vit_b16, learner, ["cat", "dog"])
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("prompt_learner."))
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 46_080
    for p in vit_b16.parameters():  # leave the shared fixture as built
        p.requires_grad_(True)


def test_kgcoop_trains_coops_4_context_vectors(vit_b16):
    """The KgCoOp release trains only CoOp's context (4 x 512 for "a photo of a"); the hand-crafted
    text knowledge is a constant."""
    learner = KgCoOpLearner(vit_b16.token_embedding, 50, n_ctx=4, ctx_init="a photo of a")
    assert count(learner) == 4 * 512 == 2_048 and list(learner.prompts) == ["text_ctx"]
    assert sum(p.numel() for p in learner.parameters()) == 2_048


def test_cocoop_meta_net_and_context(vit_b16):
    """CoCoOp (ViT-B/16, "a photo of a"): 4 x 512 context plus the meta-net 512 -> 512 // 16 -> 512."""
    learner = CoCoOpLearner(vit_b16.token_embedding, ctx_init="a photo of a")
    PromptedCLIP(vit_b16, learner, ["a", "b"])  # attaching sizes the meta-net from the image features
    assert count(learner) == 4 * 512 + (512 * 32 + 32) + (32 * 512 + 512) == 35_360
    # RN50's image features are 1024-d (its text width stays 512): the meta-net is 1024 -> 64 -> 512
    rn50 = CoCoOpLearner(vit_b16.token_embedding, ctx_init="a photo of a")
    rn50.attach(type("CLIP", (), {"visual": type("Visual", (), {"output_dim": 1024})})())
    assert count(rn50) == 4 * 512 + (1024 * 64 + 64) + (64 * 512 + 512) == 100_928


def test_promptsrc_trains_ivlps_46080_parameters(vit_b16):
    """PromptSRC's release trains IVLP's 4+4 depth-9 prompts (its regularizers and GPA add none)."""
    learner = PromptSRCLearner.from_config(PromptSRCConfig(), vit_b16.token_embedding, 768, 50)
    assert count(learner) == 46_080 and len(learner.prompts) == 18
