"""Random-weight CLIPs of the real architecture (CLIP's own classes): tiny ones for tests and CPU
smoke runs, and ViT-B/16 at its real sizes for parameter counts and timings without weights."""
from __future__ import annotations

import torch

from .loading import register_backbone
from .openai import CLIP

TINY_VIT = dict(embed_dim=32, image_resolution=32, vision_layers=3, vision_width=64, vision_patch_size=8,
                context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1,
                transformer_layers=3)
# OpenAI's ViT-B/16 sizes (what clip.model.build_model infers from the released checkpoint).
VIT_B16 = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=16,
               context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8,
               transformer_layers=12)


def build_tiny_clip(seed: int = 0, **overrides) -> CLIP:
    """A deterministic random CLIP (same weights for the same seed), independent of global RNG."""
    spec = {**TINY_VIT, **overrides}
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = CLIP(**spec)
    finally:
        torch.random.set_rng_state(state)  # building a model must not shift the run's random stream
    return model.float().eval()


@register_backbone("tiny-vit")
def _tiny_vit() -> CLIP:
    return build_tiny_clip()


def build_vit_b16_random(seed: int = 0) -> CLIP:
    """ViT-B/16 CLIP with random weights: real shapes and costs, meaningless accuracies."""
    return build_tiny_clip(seed, **VIT_B16)


@register_backbone("vit-b16-random")
def _vit_b16_random() -> CLIP:
    return build_vit_b16_random()


def double_precision(model: CLIP) -> CLIP:
    """The model in float64 for gradient checks against finite differences.

    CLIP's ``LayerNorm`` subclass computes in fp32 (for fp16 weights); in float64 the plain
    ``nn.LayerNorm`` it extends is the exact computation, so those modules fall back to it.
    """
    from .openai import LayerNorm

    for module in model.modules():
        if type(module) is LayerNorm:
            module.__class__ = torch.nn.LayerNorm
    return model.double()
