"""CoOp: learnable context vectors in the text prompt (Zhou et al., IJCV 2022)."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from .base import ClassPrompts, PromptLearner, TextInputs


class CoOpLearner(PromptLearner):
    def __init__(self, token_embedding: nn.Embedding, n_cls: int, n_ctx: int = 16, ctx_init: str = "",
                 csc: bool = False, class_token_position: str = "end") -> None:
        super().__init__()
        if ctx_init:  # CoOp's rule: the init phrase fixes the number of context tokens
            n_ctx = len(ctx_init.replace("_", " ").split())
        self.text = ClassPrompts(n_ctx, ctx_init, class_token_position, csc)
        self.csc_classes = n_cls if csc else None
        self.add_prompt("text_ctx", self.text.init_context(token_embedding, n_cls), "text", 0)

    def set_classnames(self, classnames: Sequence[str], token_embedding: nn.Embedding) -> None:
        if self.csc_classes is not None and len(classnames) != self.csc_classes:
            raise ValueError("Class-specific contexts (CSC) were trained for a fixed label set; "
                             f"cannot apply them to {len(classnames)} classes.")
        self.text.set_classnames(classnames, token_embedding)

    def text_inputs(self, p: Mapping[str, torch.Tensor]) -> TextInputs:
        return TextInputs(self.text.embeddings(p["text_ctx"]), self.text.eot_index())

    @classmethod
    def from_cfg(cls, node, token_embedding: nn.Embedding, vision_width: int, n_cls: int) -> "CoOpLearner":
        return cls(token_embedding, n_cls, n_ctx=node.N_CTX, ctx_init=node.CTX_INIT, csc=node.CSC,
                   class_token_position=node.CLASS_TOKEN_POSITION)
