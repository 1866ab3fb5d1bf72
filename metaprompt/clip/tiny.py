"""Tiny random-weight CLIPs of the real architecture (CLIP's own classes, small widths)."""
from __future__ import annotations

import torch
from clip.model import CLIP

from .loading import register_backbone

TINY_VIT = dict(embed_dim=32, image_resolution=32, vision_layers=3, vision_width=64, vision_patch_size=8,
                context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1,
                transformer_layers=3)


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


def double_precision(model: CLIP) -> CLIP:
    """The model in float64 for gradient checks against finite differences.

    CLIP's ``LayerNorm`` subclass computes in fp32 (for fp16 weights); in float64 the plain
    ``nn.LayerNorm`` it extends is the exact computation, so those modules fall back to it.
    """
    from clip.model import LayerNorm

    for module in model.modules():
        if type(module) is LayerNorm:
            module.__class__ = torch.nn.LayerNorm
    return model.double()
