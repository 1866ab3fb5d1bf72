"""VPT (deep): visual prompts only; the text side is CLIP's hand-crafted ``ctx_init {class}.``."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .ivlp import IVLPLearner
from .registry import register_learner


@dataclass(frozen=True)
class VPTConfig:
    """``TRAINER.VPT``."""
    N_CTX_VISION: int = 8
    CTX_INIT: str = "a photo of a"  # the fixed text prompt: "a photo of a {class}."
    PREC: str = "fp16"  # fp16, fp32, amp or bf16
    PROMPT_DEPTH_VISION: int = 12  # counts the input layer


@register_learner("VPT", "VPT", VPTConfig, recipe="vit_b16_c2_ep5_batch4_4")
class VPTLearner(IVLPLearner):
    def __init__(self, token_embedding: nn.Embedding, vision_width: int, n_ctx_vision: int = VPTConfig.N_CTX_VISION,
                 ctx_init: str = VPTConfig.CTX_INIT, depth_vision: int = VPTConfig.PROMPT_DEPTH_VISION) -> None:
        super().__init__(token_embedding, vision_width, n_ctx_text=0, n_ctx_vision=n_ctx_vision,
                         ctx_init=ctx_init, depth_text=0, depth_vision=depth_vision)

    @classmethod
    def from_config(cls, c: VPTConfig, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "VPTLearner":
        return cls(token_embedding, vision_width, n_ctx_vision=c.N_CTX_VISION, ctx_init=c.CTX_INIT,
                   depth_vision=c.PROMPT_DEPTH_VISION)
