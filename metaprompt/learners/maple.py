"""MaPLe: text prompts coupled into the vision tower by per-layer linear maps (Khattak et al., CVPR 2023).

Text: ``n_ctx`` context tokens (the first tokens of ``ctx_init``; the rest of the phrase stays
in the prompt) and deep text prompts that replace them at the input of layers ``1..depth-1``.
Vision: at every prompted layer ``i`` the visual prompt is ``coupling_i(text prompt_i)``, a
``Linear(text_width, vision_width)``; it is appended before ``ln_pre`` at the input (i = 0) and
replaces the previous layer's prompt tokens at layers ``1..depth-1``. The couplings are
trainable, so they are prompt tensors too (modality ``coupling``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import ClassPrompts, PromptLearner, TextInputs, VisionInputs
from .registry import register_learner


@dataclass(frozen=True)
class MaPLeConfig:
    """``TRAINER.MAPLE``, MaPLe's keys and defaults."""
    N_CTX: int = 2
    CTX_INIT: str = "a photo of a"
    PREC: str = "fp16"  # fp16, fp32, amp or bf16
    PROMPT_DEPTH: int = 9  # counts the input layer; at least 1


@register_learner("MaPLe", "MAPLE", MaPLeConfig, recipe="vit_b16_c2_ep5_batch4_2ctx")
class MaPLeLearner(PromptLearner):
    def __init__(self, token_embedding: nn.Embedding, vision_width: int, n_ctx: int = MaPLeConfig.N_CTX,
                 ctx_init: str = MaPLeConfig.CTX_INIT, depth: int = MaPLeConfig.PROMPT_DEPTH) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("MaPLe needs PROMPT_DEPTH >= 1 (the coupled input-layer prompt)")
        text_width = token_embedding.weight.shape[1]
        self.depth = depth
        self.text = ClassPrompts(n_ctx, ctx_init)
        self.add_prompt("text_ctx", self.text.init_context(token_embedding), "text", 0)
        for i in range(1, depth):
            self.add_prompt(f"text_deep_{i}", torch.empty(n_ctx, text_width).normal_(std=0.02), "text", i)
        # PyTorch's default Linear init, as MaPLe. MaPLe's release deep-copies one initial layer
        # for every deeper coupling, so couplings 1..depth-1 start equal; the input one is its own.
        first, deeper = nn.Linear(text_width, vision_width), nn.Linear(text_width, vision_width)
        for i in range(depth):
            proj = first if i == 0 else deeper
            self.add_prompt(f"coupling_{i}_weight", proj.weight.detach().clone(), "coupling", i)
            self.add_prompt(f"coupling_{i}_bias", proj.bias.detach().clone(), "coupling", i)

    def _text_prompt(self, p: Mapping[str, torch.Tensor], i: int) -> torch.Tensor:
        return p["text_ctx"] if i == 0 else p[f"text_deep_{i}"]

    def set_classnames(self, classnames: Sequence[str], token_embedding: nn.Embedding) -> None:
        self.text.set_classnames(classnames, token_embedding)

    def text_inputs(self, p: Mapping[str, torch.Tensor]) -> TextInputs:
        deep = [None] + [p[f"text_deep_{i}"] for i in range(1, self.depth)]
        return TextInputs(self.text.embeddings(p["text_ctx"]), self.text.eot_index(), deep, deep_start=1)

    def vision_inputs(self, p: Mapping[str, torch.Tensor]) -> VisionInputs:
        visual = [F.linear(self._text_prompt(p, i), p[f"coupling_{i}_weight"], p[f"coupling_{i}_bias"])
                  for i in range(self.depth)]
        return VisionInputs(visual[0], [None] + visual[1:])

    @classmethod
    def from_config(cls, c: MaPLeConfig, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "MaPLeLearner":
        return cls(token_embedding, vision_width, n_ctx=c.N_CTX, ctx_init=c.CTX_INIT, depth=c.PROMPT_DEPTH)
