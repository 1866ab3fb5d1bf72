"""PromptSRC trainer (node ``TRAINER.PROMPTSRC``, the release's keys): IVLP prompts regularized
towards frozen CLIP, and Gaussian prompt aggregation over epochs.

Per batch (the release's loss, its weights from the node):

    L = CE + TEXT_LOSS_WEIGHT * mean|t - t0| + IMAGE_LOSS_WEIGHT * mean|f - f0| + KL(p0 || p) / numel

``t``, ``f`` are the prompted unit text and image features; ``t0`` is frozen CLIP's class text
averaged over the 60 ImageNet templates (textual diversity), ``f0`` the prompt-free image
feature, ``p0`` = softmax of ``logit_scale * f0 @ t0^T`` (the zero-shot logits).

After every epoch ``e`` (1..N) the prompts are added, weighted by ``w_e`` ~ N(e; GPA_MEAN, GPA_STD)
normalised over 1..N, into an aggregate (fp32, saved with each checkpoint so a resumed run keeps
it); after the last epoch the prompts become the aggregate, so the final checkpoint and the
evaluation use it, as in the release.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from metaprompt.clip import autocast
from metaprompt.errors import ConfigError
from metaprompt.learners.promptsrc import PromptSRCLearner
from metaprompt.meta.regularizers import feature_l1, image_teacher, logit_kl, text_teacher

from .base import MODEL_NAME, PromptTrainer, compute_accuracy
from .learners import own_trainer


def gpa_weights(mean: float, std: float, epochs: int) -> list[float]:
    """Gaussian weights of epochs 1..``epochs`` (normalised to sum 1)."""
    if not std > 0:
        raise ConfigError(f"TRAINER.PROMPTSRC.GPA_STD must be > 0, got {std}.")
    density = [math.exp(-0.5 * ((e - mean) / std) ** 2) for e in range(1, epochs + 1)]
    total = sum(density)
    if not total > 0:
        raise ConfigError(f"TRAINER.PROMPTSRC.GPA_MEAN={mean} with GPA_STD={std} gives no weight to epochs "
                          f"1..{epochs} (OPTIM.MAX_EPOCH): set GPA_MEAN within them (the release: 15 of 20).")
    return [d / total for d in density]


@own_trainer
class PromptSRC(PromptTrainer):
    CFG_NODE = "PROMPTSRC"
    LEARNER = PromptSRCLearner

    def check_cfg(self, cfg) -> None:
        super().check_cfg(cfg)
        node = cfg.TRAINER.PROMPTSRC
        gpa_weights(node.GPA_MEAN, node.GPA_STD, cfg.OPTIM.MAX_EPOCH)

    def build_model(self) -> None:
        super().build_model()
        node = self.node
        self.gpa_weights = gpa_weights(node.GPA_MEAN, node.GPA_STD, self.cfg.OPTIM.MAX_EPOCH)
        self.gpa = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in self.model.prompt_learner.prompts.items()}
        self._teacher_text: torch.Tensor | None = None

    def inference_model_names(self) -> list[str]:
        return [MODEL_NAME]

    @property
    def teacher_text(self) -> torch.Tensor:
        """Frozen CLIP's unit class texts averaged over the 60 templates (computed on first use)."""
        if self._teacher_text is None:
            print("Computing the frozen-CLIP text targets (60 templates per class)")
            self._teacher_text = text_teacher(self.model, self.dm.dataset.classnames)
        return self._teacher_text

    def losses(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """PromptSRC's loss terms (weighted) and the prompted logits."""
        node, model = self.node, self.model
        image_features, text_features = model.features(images)
        logits = model.logits(image_features, text_features)
        frozen_images = image_teacher(model, images)
        with torch.no_grad():
            zero_shot = model.logit_scale.exp().float() * frozen_images @ self.teacher_text.t().to(frozen_images)
        parts = {"loss_ce": F.cross_entropy(logits, labels),
                 "loss_scl_text": node.TEXT_LOSS_WEIGHT * feature_l1(text_features, self.teacher_text),
                 "loss_scl_image": node.IMAGE_LOSS_WEIGHT * feature_l1(image_features, frozen_images),
                 "loss_scl_logits": logit_kl(logits, zero_shot)}
        return parts, logits

    def forward_backward(self, batch) -> dict:
        images, labels = self.parse_batch_train(batch)
        with autocast(self.prec, self.device):
            parts, logits = self.losses(images, labels)
            loss = sum(parts.values())
        self.backward_and_update(loss)
        if (self.batch_idx + 1) == self.num_batches:
            self.update_lr()
        return {"loss": loss.item(), "acc": compute_accuracy(logits, labels), **{k: v.item() for k, v in parts.items()}}

    # -- Gaussian prompt aggregation ---------------------------------------------------------
    @torch.no_grad()
    def after_epoch(self) -> None:
        prompts = self.model.prompt_learner.prompts
        weight = self.gpa_weights[self.epoch]
        for name, p in prompts.items():
            self.gpa[name].add_(p.detach().float(), alpha=weight)
        if self.epoch + 1 == self.max_epoch:
            print(f"PromptSRC: the prompts become their Gaussian aggregate over {self.max_epoch} epochs "
                  f"(GPA_MEAN {self.node.GPA_MEAN}, GPA_STD {self.node.GPA_STD})")
            for name, p in prompts.items():
                p.copy_(self.gpa[name].to(p.dtype))
        super().after_epoch()  # saves the checkpoint (with the aggregate so far)

    def checkpoint_extra_state(self, name: str) -> dict:
        return {"gpa": {n: t.clone() for n, t in self.gpa.items()}} if name == MODEL_NAME else {}

    def load_checkpoint_extra_state(self, name: str, checkpoint: dict) -> None:
        if name == MODEL_NAME and "gpa" in checkpoint:
            for n, t in checkpoint["gpa"].items():
                self.gpa[n].copy_(t)
