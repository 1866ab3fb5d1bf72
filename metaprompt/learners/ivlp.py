"""IVLP: independent deep text and visual prompts (the PromptSRC / ProMetaR base learner).

Text: ``n_ctx_text`` context tokens (initialised from ``ctx_init``) at the input, and deep
prompts that replace them at the input of layers ``1..depth_text-1``. Vision: ``n_ctx_vision``
tokens appended before ``ln_pre``, replaced at layers ``1..depth_vision-1``. Depth counts the
input layer; depth 0 leaves that tower prompt-free (the text then reads ``ctx_init {class}.``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import nn

from .base import ClassPrompts, PromptLearner, TextInputs, VisionInputs
from .registry import register_learner


@dataclass(frozen=True)
class IVLPConfig:
    """``TRAINER.IVLP``, PromptSRC's keys and defaults (ProMetaR's node holds them too)."""
    N_CTX_VISION: int = 4
    N_CTX_TEXT: int = 4
    CTX_INIT: str = "a photo of a"
    PREC: str = "fp16"  # fp16, fp32, amp or bf16
    PROMPT_DEPTH_VISION: int = 9  # counts the input layer; 0 = no visual prompts
    PROMPT_DEPTH_TEXT: int = 9


@register_learner("IVLP", "IVLP", IVLPConfig, recipe="vit_b16_c2_ep10_batch4_4+4ctx")  # ProMetaR's setting
class IVLPLearner(PromptLearner):
    def __init__(self, token_embedding: nn.Embedding, vision_width: int, n_ctx_text: int = IVLPConfig.N_CTX_TEXT,
                 n_ctx_vision: int = IVLPConfig.N_CTX_VISION, ctx_init: str = IVLPConfig.CTX_INIT,
                 depth_text: int = IVLPConfig.PROMPT_DEPTH_TEXT,
                 depth_vision: int = IVLPConfig.PROMPT_DEPTH_VISION) -> None:
        super().__init__()
        text_width = token_embedding.weight.shape[1]
        self.depth_text, self.depth_vision = depth_text, depth_vision
        self.text = ClassPrompts(n_ctx_text if depth_text > 0 else 0, ctx_init)
        if depth_text > 0:
            self.add_prompt("text_ctx", self.text.init_context(token_embedding), "text", 0)
            for i in range(1, depth_text):
                self.add_prompt(f"text_deep_{i}", torch.empty(n_ctx_text, text_width).normal_(std=0.02), "text", i)
        if depth_vision > 0:
            for i in range(depth_vision):
                name = "vision_ctx" if i == 0 else f"vision_deep_{i}"
                self.add_prompt(name, torch.empty(n_ctx_vision, vision_width).normal_(std=0.02), "vision", i)

    def set_classnames(self, classnames: Sequence[str], token_embedding: nn.Embedding) -> None:
        self.text.set_classnames(classnames, token_embedding)

    def text_inputs(self, p: Mapping[str, torch.Tensor]) -> TextInputs:
        if self.depth_text == 0:
            return TextInputs(self.text.embeddings(None), self.text.eot_index())
        deep = [None] + [p[f"text_deep_{i}"] for i in range(1, self.depth_text)]
        return TextInputs(self.text.embeddings(p["text_ctx"]), self.text.eot_index(), deep, deep_start=1)

    def vision_inputs(self, p: Mapping[str, torch.Tensor]) -> VisionInputs:
        if self.depth_vision == 0:
            return VisionInputs()
        deep = [None] + [p[f"vision_deep_{i}"] for i in range(1, self.depth_vision)]
        return VisionInputs(p["vision_ctx"], deep)

    @classmethod
    def from_config(cls, c: IVLPConfig, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "IVLPLearner":
        return cls(token_embedding, vision_width, n_ctx_text=c.N_CTX_TEXT, n_ctx_vision=c.N_CTX_VISION,
                   ctx_init=c.CTX_INIT, depth_text=c.PROMPT_DEPTH_TEXT, depth_vision=c.PROMPT_DEPTH_VISION)
