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
        learner.attach(clip_model)
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

    @property
    def text_depends_on_image(self) -> bool:
        return self.prompt_learner.TEXT_DEPENDS_ON_IMAGE

    def encode_text(self, params: Params | None = None, image_features: torch.Tensor | None = None) -> torch.Tensor:
        """``(n_cls, embed_dim)`` class text features (unnormalised), with ``params`` overriding prompts.

        For an image-conditioned learner (``TEXT_DEPENDS_ON_IMAGE``), ``(B, n_cls, embed_dim)``: one
        set per image of ``image_features`` ``(B, E)``, which it requires (no shared text features exist).
        """
        if self.text_depends_on_image:
            return self._encode_text_per_image(params, image_features)
        if self._text_cache is not None and not params:
            return self._text_cache
        if not self.prompt_learner.text_depends_on_prompts:
            return self._frozen_text_features()
        return self._encode_text(params)

    def _encode_text_per_image(self, params: Params | None, image_features: torch.Tensor | None) -> torch.Tensor:
        if image_features is None or image_features.dim() != 2:
            raise ValueError(f"{type(self.prompt_learner).__name__}'s class texts depend on the image: pass the "
                             "batch's image features (B, E) to encode_text; there are no per-class text features "
                             "to cache or to score cached image features against.")
        p = self.prompt_learner.prompt_tensors(params)
        unit = F.normalize(image_features, dim=-1)  # the meta-net reads unit-norm features (CoCoOp)
        per_image = []
        for i in range(unit.shape[0]):  # one image at a time, as the release: memory of n_cls prompts
            t = self.prompt_learner.text_inputs(p, unit[i: i + 1])
            per_image.append(self.text_encoder(t.embeddings, t.eot_index, t.deep, t.deep_start))
        return torch.stack(per_image)

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
        """``(B, n_cls)``; ``text_features`` is ``(n_cls, E)``, or ``(B, n_cls, E)`` (one set per image)."""
        image_features = F.normalize(image_features, dim=-1)
        text_features = F.normalize(text_features, dim=-1)
        if text_features.dim() == 3:
            return self.logit_scale.exp() * torch.einsum("be,bce->bc", image_features, text_features)
        return self.logit_scale.exp() * image_features @ text_features.t()

    def features(self, images: torch.Tensor, params: Params | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(image_features, text_features)`` of a batch (text per image for image-conditioned learners)."""
        image_features = self.encode_image(images, params)
        return image_features, self.encode_text(params, image_features if self.text_depends_on_image else None)

    def forward(self, images: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        return self.logits(*self.features(images, params))

    def training_loss(self, images: torch.Tensor, labels: torch.Tensor,
                      params: Params | None = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``(loss, logits, parts)``: cross-entropy plus the learner's own regularizers (``parts``, by name)."""
        image_features, text_features = self.features(images, params)
        logits = self.logits(image_features, text_features)
        parts = self.prompt_learner.regularizers(self, image_features, text_features, logits)
        loss = F.cross_entropy(logits, labels)
        for value in parts.values():
            loss = loss + value
        return loss, logits, parts

    @contextlib.contextmanager
    def cached_text_features(self) -> Iterator[None]:
        """Encode the class texts once for a whole evaluation (the text side ignores the image).

        Inside the block ``encode_text()`` without ``params`` returns these features; the prompts
        must not change meanwhile (evaluation only). An image-conditioned learner has no class text
        features to share, so nothing is cached for it.
        """
        if self.text_depends_on_image:
            yield
            return
        with torch.no_grad():
            self._text_cache = self.encode_text()
        try:
            yield
        finally:
            self._text_cache = None
