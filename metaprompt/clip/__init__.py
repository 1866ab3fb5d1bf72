"""CLIP backbones: loading (local file or cache, never a download), tiny models, prompted encoders."""
from . import tiny  # noqa: F401  (registers the tiny backbones)
from .encoders import PromptedImageEncoder, PromptedTextEncoder
from .loading import (
    DEFAULT_CACHE,
    MissingWeightsError,
    WeightsFileError,
    available_backbones,
    is_builtin_backbone,
    load_clip,
    register_backbone,
    resolve_checkpoint,
)
from .precision import (CPU_HALF_ENV, PRECISIONS, autocast, cpu_half_forced, half_weights, needs_grad_scaler,
                        resolve_precision)
from .tiny import build_tiny_clip, build_vit_b16_random, double_precision

__all__ = [
    "CPU_HALF_ENV", "DEFAULT_CACHE", "MissingWeightsError", "PRECISIONS", "PromptedImageEncoder",
    "PromptedTextEncoder", "autocast", "available_backbones", "build_tiny_clip", "build_vit_b16_random",
    "cpu_half_forced", "double_precision", "half_weights",
    "is_builtin_backbone", "load_clip", "needs_grad_scaler", "register_backbone", "resolve_checkpoint",
    "resolve_precision", "WeightsFileError",
]
