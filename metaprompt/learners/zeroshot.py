"""Zero-shot CLIP: a hand-crafted text prompt per class and no trainable tensor.

It is a learner with an empty ``prompts`` dict, so zero-shot CLIP runs through the same
:class:`PromptedCLIP`, evaluation and result parsing as the prompt learners.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import nn

from ..clip.openai import clip
from .base import PromptLearner, TextInputs
from .registry import register_learner

DEFAULT_TEMPLATE = "a photo of a {}."
DATASET_TEMPLATES_KEY = "dataset"  # TEMPLATE value that picks the per-dataset template below

# The per-dataset templates of CoOp's ZeroshotCLIP trainer (the zero-shot rows of the CoOp and
# CoCoOp papers), keyed by dataset registry name. Datasets not listed use DEFAULT_TEMPLATE.
DATASET_TEMPLATES = {
    "OxfordPets": "a photo of a {}, a type of pet.",
    "OxfordFlowers": "a photo of a {}, a type of flower.",
    "FGVCAircraft": "a photo of a {}, a type of aircraft.",
    "DescribableTextures": "{} texture.",
    "EuroSAT": "a centered satellite photo of {}.",
    "StanfordCars": "a photo of a {}.",
    "Food101": "a photo of {}, a type of food.",
    "SUN397": "a photo of a {}.",
    "Caltech101": "a photo of a {}.",
    "UCF101": "a photo of a person doing {}.",
    "ImageNet": "a photo of a {}.",
    "ImageNetSketch": "a photo of a {}.",
    "ImageNetV2": "a photo of a {}.",
    "ImageNetA": "a photo of a {}.",
    "ImageNetR": "a photo of a {}.",
}


def resolve_template(template: str, dataset_name: str) -> str:
    """``template`` itself, or the dataset's CoOp template when it is ``"dataset"``."""
    if template == DATASET_TEMPLATES_KEY:
        return DATASET_TEMPLATES.get(dataset_name, DEFAULT_TEMPLATE)
    if template.count("{}") != 1:
        raise ValueError(f"A prompt template needs exactly one '{{}}' for the class name, got {template!r} "
                         f"(e.g. {DEFAULT_TEMPLATE!r}, or {DATASET_TEMPLATES_KEY!r} for CoOp's per-dataset ones).")
    return template


@dataclass(frozen=True)
class ZeroshotConfig:
    """``TRAINER.ZSCLIP``."""
    # The text prompt; "{}" is the class name. "dataset": CoOp's per-dataset template
    # (e.g. "a photo of a {}, a type of pet." for OxfordPets).
    TEMPLATE: str = DEFAULT_TEMPLATE
    PREC: str = "fp16"  # fp16, fp32, amp or bf16


@register_learner("ZeroshotCLIP", "ZSCLIP", ZeroshotConfig, recipe="vit_b16",
                  not_a_meta_base="zero-shot CLIP has no prompt tensor to meta-regularize.")
class HandCraftedPrompts(PromptLearner):
    """CLIP's own text encoding of ``template.format(class)``; nothing to train."""

    def __init__(self, template: str = ZeroshotConfig.TEMPLATE) -> None:
        super().__init__()
        self.template = resolve_template(template, "")

    def set_classnames(self, classnames: Sequence[str], token_embedding: nn.Embedding) -> None:
        texts = [self.template.format(name.replace("_", " ")) for name in classnames]
        tokens = clip.tokenize(texts).to(token_embedding.weight.device)
        with torch.no_grad():
            self.register_buffer("token_embeddings", token_embedding(tokens), persistent=False)
        self.register_buffer("tokenized", tokens, persistent=False)

    def text_inputs(self, p: Mapping[str, torch.Tensor]) -> TextInputs:
        return TextInputs(self.token_embeddings, self.tokenized.argmax(dim=-1))

    @classmethod
    def from_config(cls, c: ZeroshotConfig, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "HandCraftedPrompts":
        return cls(resolve_template(c.TEMPLATE, dataset_name))
