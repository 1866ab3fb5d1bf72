"""CoCoOp: CoOp's context shifted per image by a meta-net (Zhou et al., CVPR 2022).

Tensors: the context ``text_ctx`` ``(n_ctx, D)`` and the meta-net ``Linear(E, E // 16) - ReLU -
Linear(E // 16, D)`` (``meta_net_linear{1,2}_{weight,bias}``; ``E`` is CLIP's image-feature
size, ``D`` the text width; PyTorch's default Linear init, as the release). For image ``i`` the
context is ``text_ctx + meta_net(f_i / |f_i|)`` (the same shift for every token), and every class
prompt of that image is built from it, so the class texts depend on the image
(``TEXT_DEPENDS_ON_IMAGE``): ``PromptedCLIP`` encodes them once per image and never caches them.

The meta-net only feeds the text input, so its tensors have modality ``text`` (layer 0): CoCoOp
runs on ResNet backbones too. The meta-net's size comes from the CLIP the learner is attached to
(:meth:`attach`, called by ``PromptedCLIP``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import ClassPrompts, PromptLearner, TextInputs
from .registry import register_learner

META_NET = ("meta_net_linear1_weight", "meta_net_linear1_bias", "meta_net_linear2_weight", "meta_net_linear2_bias")


@dataclass(frozen=True)
class CoCoOpConfig:
    """``TRAINER.COCOOP``, the CoOp release's keys and defaults for CoCoOp."""
    N_CTX: int = 16  # number of context vectors
    CTX_INIT: str = ""  # initialization words (sets N_CTX to their count)
    PREC: str = "fp16"  # fp16, fp32, amp or bf16


@register_learner("CoCoOp", "COCOOP", CoCoOpConfig, recipe="vit_b16_c4_ep10_batch1_ctxv1",
                  not_a_meta_base="its class texts depend on each image (the meta-net), but ProMetaR's Step B "
                                  "scores mixed image features of two images and GRAM scores episodes against one "
                                  "set of class texts, so neither has a text to use.")
class CoCoOpLearner(PromptLearner):
    TEXT_DEPENDS_ON_IMAGE = True

    def __init__(self, token_embedding: nn.Embedding, n_ctx: int = CoCoOpConfig.N_CTX,
                 ctx_init: str = CoCoOpConfig.CTX_INIT) -> None:
        super().__init__()
        if ctx_init:  # CoOp's rule: the init phrase fixes the number of context tokens
            n_ctx = len(ctx_init.replace("_", " ").split())
        self.text = ClassPrompts(n_ctx, ctx_init)
        self.add_prompt("text_ctx", self.text.init_context(token_embedding), "text", 0)

    def attach(self, clip_model) -> None:
        """Build the meta-net for this CLIP's image-feature size (once; a second CLIP must match)."""
        vis_dim, ctx_dim = clip_model.visual.output_dim, self.prompts["text_ctx"].shape[-1]
        if "meta_net_linear1_weight" in self.prompts:
            if self.prompts["meta_net_linear1_weight"].shape[1] != vis_dim:
                raise ValueError(f"This CoCoOp meta-net reads {self.prompts['meta_net_linear1_weight'].shape[1]}-d "
                                 f"image features; this CLIP's are {vis_dim}-d (another backbone).")
            return
        dtype = self.prompts["text_ctx"].dtype
        hidden = vis_dim // 16
        for i, (n_in, n_out) in enumerate([(vis_dim, hidden), (hidden, ctx_dim)], start=1):
            layer = nn.Linear(n_in, n_out)
            self.add_prompt(f"meta_net_linear{i}_weight", layer.weight.detach().to(dtype), "text", 0)
            self.add_prompt(f"meta_net_linear{i}_bias", layer.bias.detach().to(dtype), "text", 0)

    def set_classnames(self, classnames: Sequence[str], token_embedding: nn.Embedding) -> None:
        self.text.set_classnames(classnames, token_embedding)

    def context_shift(self, p: Mapping[str, torch.Tensor], image_features: torch.Tensor) -> torch.Tensor:
        """``(B, D)``: the meta-net's output for unit-norm image features ``(B, E)``."""
        w1, b1, w2, b2 = (p[n] for n in META_NET)
        x = image_features.to(w1.dtype)
        return F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)

    def text_inputs(self, p: Mapping[str, torch.Tensor], image_features: torch.Tensor | None = None) -> TextInputs:
        """The class prompts of each image: ``B * n_cls`` rows, image-major."""
        if image_features is None:
            raise ValueError("CoCoOp's class prompts depend on the image: pass the image features.")
        ctx = p["text_ctx"].unsqueeze(0) + self.context_shift(p, image_features).unsqueeze(1)  # (B, n_ctx, D)
        embeddings = torch.cat([self.text.embeddings(c) for c in ctx])
        return TextInputs(embeddings, self.text.eot_index().repeat(ctx.shape[0]))

    @classmethod
    def from_config(cls, c: CoCoOpConfig, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "CoCoOpLearner":
        return cls(token_embedding, n_ctx=c.N_CTX, ctx_init=c.CTX_INIT)
