"""VPT (deep): visual prompts only; the text side is CLIP's hand-crafted ``ctx_init {class}.``."""
from __future__ import annotations

from torch import nn

from .ivlp import IVLPLearner


class VPTLearner(IVLPLearner):
    def __init__(self, token_embedding: nn.Embedding, vision_width: int, n_ctx_vision: int = 8,
                 ctx_init: str = "a photo of a", depth_vision: int = 12) -> None:
        super().__init__(token_embedding, vision_width, n_ctx_text=0, n_ctx_vision=n_ctx_vision,
                         ctx_init=ctx_init, depth_text=0, depth_vision=depth_vision)

    @classmethod
    def from_cfg(cls, node, token_embedding: nn.Embedding, vision_width: int, n_cls: int) -> "VPTLearner":
        return cls(token_embedding, vision_width, n_ctx_vision=node.N_CTX_VISION, ctx_init=node.CTX_INIT,
                   depth_vision=node.PROMPT_DEPTH_VISION)
