"""Task-agnostic knowledge from frozen CLIP: the teachers ProMetaR's regularizers pull towards.

* Text teacher: per class, the mean over the 60 ImageNet templates of frozen-CLIP text
  features (mean of raw features, then normalised, as the release), computed once.
* Image teacher: the prompt-free frozen image encoder (the same CLIP weights with no prompt
  inserted, so no second copy of the model is kept).

Regularizer: ``weight * mean |normalize(prompted) - teacher|`` (an L1 distance per element).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ..clip.openai import clip
from ..learners.prompted_clip import PromptedCLIP
from ..clip.templates import IMAGENET_TEMPLATES


def at_least_fp32(x: torch.Tensor) -> torch.dtype:
    return torch.promote_types(x.dtype, torch.float32)  # fp16 features in fp32; float64 stays float64


@torch.no_grad()
def text_teacher(model: PromptedCLIP, classnames: Sequence[str], templates: Sequence[str] = IMAGENET_TEMPLATES,
                 chunk: int = 512) -> torch.Tensor:
    """``(n_cls, embed_dim)`` normalised frozen text features averaged over ``templates``."""
    device = model.token_embedding.weight.device
    names = [name.replace("_", " ") for name in classnames]
    prompts = [t.format(name) for name in names for t in templates]  # class-major
    features = []
    for start in range(0, len(prompts), chunk):
        tokens = clip.tokenize(prompts[start: start + chunk]).to(device)
        out = model.text_encoder(model.token_embedding(tokens), tokens.argmax(dim=-1))
        features.append(out.to(at_least_fp32(out)))
    mean = torch.cat(features).reshape(len(names), len(templates), -1).mean(dim=1)
    return F.normalize(mean, dim=-1)


@torch.no_grad()
def image_teacher(model: PromptedCLIP, images: torch.Tensor) -> torch.Tensor:
    """Normalised prompt-free image features of ``images`` (no graph)."""
    out = model.image_encoder(images)
    return F.normalize(out.to(at_least_fp32(out)), dim=-1)


def feature_l1(features: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """``mean |normalize(features) - teacher|`` with ``teacher`` already normalised."""
    features = F.normalize(features.to(at_least_fp32(features)), dim=-1)
    return F.l1_loss(features, teacher.to(features.device, features.dtype))


def logit_kl(logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """``KL(softmax(teacher) || softmax(logits))`` summed over the batch and divided by
    ``logits.numel()`` (PromptSRC's logit regularizer, temperature 1)."""
    dtype = at_least_fp32(logits)
    student = F.log_softmax(logits.to(dtype), dim=-1)
    teacher = F.log_softmax(teacher_logits.to(student.device, dtype), dim=-1)
    return F.kl_div(student, teacher, reduction="sum", log_target=True) / logits.numel()
