"""GRAM's meta-objective on one episode, functional over the prompt tensors.

    g      = grad of CE(support; theta)
    theta' = theta - alpha * R_phi(g)        (INNER_STEPS times)
    loss   = CE(query from another domain; theta')

First order (default): ``g`` is a constant for the outer gradient, so theta gets the
first-order (FOMAML) gradient while phi gets the exact gradient through ``R_phi(g)`` (exact for
one inner step; with more steps the earlier steps' dependence of ``g`` on phi is dropped too).
Second order keeps the graph of ``g``: both gradients are exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F

from ...learners import PromptedCLIP
from ..functional import Tensors, inner_step, loss_gradients
from .regulator import Regulator


@dataclass(frozen=True)
class InnerLoop:
    lr: float
    steps: int = 1
    first_order: bool = True


def episode_logits(model: PromptedCLIP, inputs: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Logits of images ``(B, 3, H, W)``, or of frozen image features ``(B, E)`` when the learner
    puts nothing in the vision tower (then the image side never changes and need not be re-run)."""
    if inputs.dim() == 2:
        return model.logits(inputs, model.encode_text(params))
    return model(inputs, params)


def adapt(model: PromptedCLIP, params: Mapping[str, torch.Tensor], regulator: Regulator | None,
          inputs: torch.Tensor, labels: torch.Tensor, inner: InnerLoop, task: torch.Tensor | None = None) -> Tensors:
    """The inner loop on the support set: ``theta - alpha * R(g)``, ``inner.steps`` times."""
    modulator = regulator.for_task(task) if regulator is not None else None
    gradients = loss_gradients(lambda p: F.cross_entropy(episode_logits(model, inputs, p), labels))
    adapted = dict(params)
    for _ in range(inner.steps):
        adapted = inner_step(adapted, gradients, inner.lr, modulator=modulator, first_order=inner.first_order)
    return adapted


def episode_loss(model: PromptedCLIP, params: Mapping[str, torch.Tensor], regulator: Regulator | None,
                 support: tuple[torch.Tensor, torch.Tensor], query: tuple[torch.Tensor, torch.Tensor],
                 inner: InnerLoop, task: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(query loss after adaptation, query logits)``; the class names must already be set on ``model``."""
    adapted = adapt(model, params, regulator, support[0], support[1], inner, task)
    logits = episode_logits(model, query[0], adapted)
    return F.cross_entropy(logits, query[1]), logits


def task_embedding(frozen_image_features: torch.Tensor) -> torch.Tensor:
    """The task's condition for the regulator: the mean normalised frozen image feature of its images."""
    return F.normalize(frozen_image_features.float(), dim=-1).mean(0)
