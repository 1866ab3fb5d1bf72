"""ProMetaR (Park, Ko, Kim, CVPR 2024): prompt learning via meta-regularization, the method itself.

One training iteration on a batch (the trainer wires these to optimizers):

* **Step A** - :meth:`ProMetaR.losses` on the batch; the prompts step with the gated gradient
  ``g_ce + gamma * g_reg`` (gate frozen in this step, see :class:`GradientGate`).
* **Step B** - :func:`sample_episode` holds one class of the batch out as the query;
  :meth:`ProMetaR.meta_loss` adapts the prompts on the support with the gated gradient
  (``theta' = theta - alpha * g_mod``, second order unless ``first_order``), then scores the query
  at ``theta'`` with manifold-mixup virtual tasks. Its gradient reaches the prompts (through
  ``theta'``) and the gate (through ``gamma`` inside ``theta'``).

Regularizer gradient per tensor: ``g_reg = d(R_text + R_img)/d theta_k``. A tensor gets the
gradient of whichever regularizer depends on it: IVLP text prompts only R_text, visual prompts
only R_img (the release's rule); MaPLe's text prompts feed the vision tower through the coupling
layers and get both, its coupling layers only R_img; CoOp has no R_img term, VPT no R_text term.

Only the prompt tensors are adapted: the adapted forward is ``model(images, params=theta')``,
so no frozen CLIP weight is cloned. Only the support forward of a second-order step runs in
math attention (the one graph that is differentiated twice); every other forward keeps the
fused kernels.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F

from ..learners.prompted_clip import PromptedCLIP
from .functional import batched_prompt_grads, double_backward_attention, inner_step, prompt_grads
from .gate import GradientGate
from .regularizers import at_least_fp32, feature_l1, image_teacher

Tensors = dict[str, torch.Tensor]


@dataclass(frozen=True)
class ProMetaRSettings:
    text_weight: float = 50.0  # w_t of R_text (the release's 50)
    image_weight: float = 20.0  # w_i of R_img (the release's 20)
    adapt_lr: float = 5e-4  # alpha of the inner step (ADAPT_LR)
    first_order: bool = False  # FAST_ADAPTATION
    mixup_alpha: float = 0.5
    mixup_beta: float = 0.5
    # g_ce and g_reg in one batched backward (vmap over the cotangents) instead of two passes (the
    # release's order). Same values up to float rounding; off by default: on CPU at ViT-B/16 width
    # it measured no faster (docs/prometar.md, Cost). benchmarks/prometar_step.py times both.
    batched_backward: bool = False


@dataclass
class Episode:
    """A virtual task inside one batch: indices into the batch, and the query's mixup partners."""

    query: torch.Tensor  # batch indices of the held-out class
    support: torch.Tensor  # batch indices of the other classes
    lam: torch.Tensor  # (n_query,) mixup weights of the query samples
    mix: torch.Tensor  # (n_query,) index into ``support`` of each query sample's partner


def sample_episode(labels: torch.Tensor, alpha: float = 0.5, beta: float = 0.5, mixup: bool = True) -> Episode | None:
    """Hold one class present in the batch out at random; ``None`` when the batch has one class.
    ``mixup=False``: no virtual tasks, every query sample keeps its own image (lam = 1)."""
    classes = labels.unique()
    if len(classes) < 2:
        return None
    held_out = classes[torch.randperm(len(classes))[0]]
    query = (labels == held_out).nonzero().flatten()
    support = (labels != held_out).nonzero().flatten()
    lam = torch.distributions.Beta(float(alpha), float(beta)).sample((len(query),)).to(labels.device)
    if not mixup:
        lam = torch.ones_like(lam)  # drawn anyway, so the random stream is the same as with mixup
    mix = torch.randint(len(support), (len(query),)).to(labels.device)
    return Episode(query, support, lam, mix)


@dataclass
class Losses:
    ce: torch.Tensor
    text_reg: torch.Tensor
    image_reg: torch.Tensor
    logits: torch.Tensor

    @property
    def reg(self) -> torch.Tensor:
        return self.text_reg + self.image_reg


class ProMetaR:
    """The method over a :class:`PromptedCLIP`, its :class:`GradientGate` and the text teacher."""

    def __init__(self, model: PromptedCLIP, gate: GradientGate, text_teacher: torch.Tensor,
                 settings: ProMetaRSettings = ProMetaRSettings()) -> None:
        self.model, self.gate, self.text_teacher, self.settings = model, gate, text_teacher, settings
        modalities = {spec.modality for spec in model.prompt_learner.specs.values()}
        self.has_text_reg = "text" in modalities  # text features move only with text prompts
        self.has_image_reg = bool(modalities & {"vision", "coupling"})

    def prompts(self) -> Tensors:
        return dict(self.model.prompt_learner.prompts.items())

    def image_teacher(self, images: torch.Tensor) -> torch.Tensor | None:
        """Frozen image features for R_img (``None`` when no prompt reaches the vision tower)."""
        return image_teacher(self.model, images) if self.has_image_reg else None

    # -- losses ------------------------------------------------------------------------------
    def losses(self, images: torch.Tensor, labels: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None,
               teacher_images: torch.Tensor | None = None) -> Losses:
        """Cross-entropy and both regularizers at ``params`` (the learner's own prompts if ``None``)."""
        image_features = self.model.encode_image(images, params)
        text_features = self.model.encode_text(params)
        logits = self.model.logits(image_features, text_features)
        ce = F.cross_entropy(logits, labels)
        zero = ce.new_zeros((), dtype=at_least_fp32(ce))
        if self.has_text_reg:
            text_reg = self.settings.text_weight * feature_l1(text_features, self.text_teacher)
        else:
            text_reg = zero
        if self.has_image_reg:
            teacher = teacher_images if teacher_images is not None else image_teacher(self.model, images)
            image_reg = self.settings.image_weight * feature_l1(image_features, teacher)
        else:
            image_reg = zero
        return Losses(ce, text_reg, image_reg, logits)

    def task_and_regularizer_gradients(self, losses: Losses, params: Mapping[str, torch.Tensor],
                                       create_graph: bool = False, scale: float = 1.0) -> tuple[Tensors, Tensors]:
        """``(g_ce, g_reg)`` of ``scale * loss`` (a gradient scaler's factor), in one batched backward
        pass or in two (``settings.batched_backward``)."""
        ce, reg = (losses.ce, losses.reg) if scale == 1.0 else (losses.ce * scale, losses.reg * scale)
        if self.settings.batched_backward and reg.requires_grad:
            g_ce, g_reg = batched_prompt_grads([ce, reg], params, create_graph)
            return g_ce, g_reg
        g_reg = self.regularizer_gradients(reg, params, create_graph=create_graph)
        return prompt_grads(ce, params, create_graph=create_graph), g_reg

    def regularizer_gradients(self, reg: torch.Tensor, params: Mapping[str, torch.Tensor],
                              create_graph: bool = False) -> Tensors:
        """``d reg / d params`` keeping the forward graph (the task gradient is taken from it next)."""
        if not reg.requires_grad:
            return {n: torch.zeros_like(p) for n, p in params.items()}
        return prompt_grads(reg, params, create_graph=create_graph, retain_graph=True)

    # -- Step B ------------------------------------------------------------------------------
    def adapt(self, images: torch.Tensor, labels: torch.Tensor, params: Mapping[str, torch.Tensor],
              teacher_images: torch.Tensor | None = None) -> Tensors:
        """``theta' = theta - alpha * (g_ce + gamma * g_reg)`` on ``images`` (the support): the shared
        :func:`inner_step` with the gate as modulator (first order: the gradients are constants,
        gamma still depends on the gate)."""
        def streams(p: Mapping[str, torch.Tensor], create_graph: bool) -> dict[str, Tensors]:
            losses = self.losses(images, labels, p, teacher_images)
            g_ce, g_reg = self.task_and_regularizer_gradients(losses, p, create_graph=create_graph)
            return {"ce": g_ce, "reg": g_reg}

        return inner_step(params, streams, self.settings.adapt_lr, self.gate, first_order=self.settings.first_order)

    def query_loss(self, images: torch.Tensor, labels: torch.Tensor, episode: Episode,
                   params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Mixup virtual tasks on the query: features ``lam * f_q + (1 - lam) * f_s``, labels likewise."""
        partners = episode.support[episode.mix]
        n_query = len(episode.query)
        features = self.model.encode_image(images[torch.cat([episode.query, partners])], params)
        lam = episode.lam.to(features.dtype).unsqueeze(1)
        mixed = lam * features[:n_query] + (1 - lam) * features[n_query:]
        logits = self.model.logits(mixed, self.model.encode_text(params))
        lam = episode.lam.to(at_least_fp32(logits))
        ce_query = F.cross_entropy(logits, labels[episode.query], reduction="none")
        ce_partner = F.cross_entropy(logits, labels[partners], reduction="none")
        return (lam * ce_query + (1 - lam) * ce_partner).mean()

    def meta_loss(self, images: torch.Tensor, labels: torch.Tensor, episode: Episode,
                  teacher_images: torch.Tensor | None = None) -> torch.Tensor:
        """Step B's outer loss (unscaled): adapt on the support, score the mixed query at ``theta'``.

        ``teacher_images``: frozen image features of the whole batch if already computed (Step A).
        """
        support = episode.support
        teacher = teacher_images[support] if teacher_images is not None else None
        attention = contextlib.nullcontext() if self.settings.first_order else double_backward_attention()
        with attention:
            adapted = self.adapt(images[support], labels[support], self.prompts(), teacher)
        return self.query_loss(images, labels, episode, adapted)
