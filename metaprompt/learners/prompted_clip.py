"""CLIP with a prompt learner: frozen encoders + trainable prompts, logits like CLIP's."""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..clip.openai import CLIP
from ..clip.encoders import PromptedImageEncoder, PromptedTextEncoder
from ..errors import ConfigError
from .base import Params, PromptLearner


class PromptedCLIP(nn.Module):
    def __init__(self, clip_model: CLIP, learner: PromptLearner, classnames: Sequence[str]) -> None:
        super().__init__()
        self.text_encoder = PromptedTextEncoder(clip_model)
        self.image_encoder = PromptedImageEncoder(clip_model)
        self.token_embedding = clip_model.token_embedding
        self.logit_scale = clip_model.logit_scale
        self.prompt_learner = learner
        visual = sorted({s.modality for s in learner.specs.values()} - {"text"})
        if visual and not self.image_encoder.is_vit:
            raise ConfigError(
                f"{type(learner).__name__} puts {' and '.join(visual)} prompts into the image encoder's transformer "
                f"layers, but this CLIP's image encoder is a ResNet ({type(clip_model.visual).__name__}), which has "
                "no tokens to prompt: use a ViT backbone (ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px), or CoOp "
                "(text prompts only), which works on both.")
        self._text_cache: torch.Tensor | None = None  # set for one evaluation (cached_text_features)
        self._frozen_text: torch.Tensor | None = None  # text features when no prompt reaches the text
        self.set_classnames(classnames)

    @property
    def dtype(self) -> torch.dtype:
        return self.text_encoder.dtype

    def set_classnames(self, classnames: Sequence[str]) -> None:
        self.prompt_learner.set_classnames(classnames, self.token_embedding)
        self._text_cache = None
        self._frozen_text = None

    def encode_text(self, params: Params | None = None) -> torch.Tensor:
        """``(n_cls, embed_dim)`` class text features (unnormalised), with ``params`` overriding prompts."""
        if self._text_cache is not None and not params:
            return self._text_cache
        if not self.prompt_learner.text_depends_on_prompts:
            return self._frozen_text_features()
        return self._encode_text(params)

    def _encode_text(self, params: Params | None = None) -> torch.Tensor:
        t = self.prompt_learner.text_inputs(self.prompt_learner.prompt_tensors(params))
        return self.text_encoder(t.embeddings, t.eot_index, t.deep, t.deep_start)

    def _frozen_text_features(self) -> torch.Tensor:
        """Text features of a learner without text prompts (VPT, zero-shot): constants, encoded once.

        Encoded in the model's own precision (outside any autocast region) and re-encoded if the
        model moved to another device or dtype since.
        """
        weight = self.token_embedding.weight
        cached = self._frozen_text
        if cached is None or cached.device != weight.device or cached.dtype != self.dtype:
            with torch.no_grad(), torch.autocast(weight.device.type, enabled=False):
                cached = self._encode_text()
            self._frozen_text = cached
        return cached

    def encode_image(self, images: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        v = self.prompt_learner.vision_inputs(self.prompt_learner.prompt_tensors(params))
        return self.image_encoder(images, v.shallow, v.deep)

    def logits(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        image_features = F.normalize(image_features, dim=-1)
        text_features = F.normalize(text_features, dim=-1)
        return self.logit_scale.exp() * image_features @ text_features.t()

    def forward(self, images: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        return self.logits(self.encode_image(images, params), self.encode_text(params))

    @contextlib.contextmanager
    def cached_text_features(self) -> Iterator[None]:
        """Encode the class texts once for a whole evaluation (the text side ignores the image).

        Inside the block ``encode_text()`` without ``params`` returns these features; the prompts
        must not change meanwhile (evaluation only).
        """
        with torch.no_grad():
            self._text_cache = self.encode_text()
        try:
            yield
        finally:
            self._text_cache = None
