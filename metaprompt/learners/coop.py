"""CoOp: learnable context vectors in the text prompt (Zhou et al., IJCV 2022)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import nn

from .base import ClassPrompts, PromptLearner, TextInputs
from .registry import register_learner


@dataclass(frozen=True)
class CoOpConfig:
    """``TRAINER.COOP``, the CoOp release's keys and defaults."""
    N_CTX: int = 16  # number of context vectors
    CSC: bool = False  # class-specific context
    CTX_INIT: str = ""  # initialization words (sets N_CTX to their count)
    PREC: str = "fp16"  # fp16, fp32, amp or bf16
    CLASS_TOKEN_POSITION: str = "end"  # end, middle or front


# CoCoOp's base-to-new scripts: vit_b16_ctxv1 for CoOp, vit_b16_ep50_ctxv1 on ImageNet.
@register_learner("CoOp", "COOP", CoOpConfig, recipe="vit_b16_ctxv1",
                  dataset_recipes={"imagenet": "vit_b16_ep50_ctxv1"})
class CoOpLearner(PromptLearner):
    def __init__(self, token_embedding: nn.Embedding, n_cls: int, n_ctx: int = CoOpConfig.N_CTX,
                 ctx_init: str = CoOpConfig.CTX_INIT, csc: bool = CoOpConfig.CSC,
                 class_token_position: str = CoOpConfig.CLASS_TOKEN_POSITION) -> None:
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
    def from_config(cls, c: CoOpConfig, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "CoOpLearner":
        return cls(token_embedding, n_cls, n_ctx=c.N_CTX, ctx_init=c.CTX_INIT, csc=c.CSC,
                   class_token_position=c.CLASS_TOKEN_POSITION)
