"""KgCoOp: CoOp's context plus a text-knowledge loss (Yao et al., CVPR 2023).

The prompt tensors are CoOp's (``text_ctx``). Training adds ``W * (1 - mean_c cos(t_c, t0_c))``:
``t_c`` is class ``c``'s text feature with the learned context, ``t0_c`` frozen CLIP's feature of
the hand-crafted prompt (``TEMPLATE``, "a photo of a {}."). On unit vectors
``||t - t0||^2 = 2 (1 - cos)``, so this is the paper's squared-distance loss at half the weight;
``W`` = 8.0 is the release's base-to-new value for this form of the loss. Evaluation is CoOp's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .coop import CoOpLearner
from .registry import register_learner
from .zeroshot import HandCraftedPrompts, resolve_template


@dataclass(frozen=True)
class KgCoOpConfig:
    """``TRAINER.KGCOOP``: CoOp's keys (the release keeps them in ``TRAINER.COOP``) plus ``W``."""
    N_CTX: int = 4  # context vectors (the release's base-to-new value)
    CSC: bool = False  # class-specific context
    CTX_INIT: str = "a photo of a"  # initialization words (set N_CTX to their count)
    PREC: str = "fp16"  # fp16, fp32, amp or bf16
    CLASS_TOKEN_POSITION: str = "end"  # end, middle or front
    W: float = 8.0  # weight of the text-knowledge loss
    # The hand-crafted prompt of the frozen text knowledge ("{}" is the class name); "dataset": the
    # per-dataset one (CoOp's zero-shot templates, as the release, which differs for DTD only).
    TEMPLATE: str = "a photo of a {}."


def from_release(key: str, value: Any) -> tuple[str, Any]:
    """The release's keys live in ``TRAINER.COOP`` (``W`` included) and its ``CTX_INIT`` is a
    switch: True initialises the context from "a photo of a", False at random."""
    if not key.startswith("TRAINER.COOP."):
        return key, value
    name = key.rpartition(".")[2]
    if name == "CTX_INIT" and str(value) in ("True", "False"):
        value = "a photo of a" if str(value) == "True" else ""
    return f"TRAINER.KGCOOP.{name}", value


@register_learner("KgCoOp", "KGCOOP", KgCoOpConfig, recipe="vit_b16_ep100_ctxv1", release_keys=from_release)
class KgCoOpLearner(CoOpLearner):
    def __init__(self, token_embedding: nn.Embedding, n_cls: int, weight: float = KgCoOpConfig.W,
                 template: str = KgCoOpConfig.TEMPLATE, **coop) -> None:
        super().__init__(token_embedding, n_cls, **coop)
        self.weight = weight
        self.knowledge = HandCraftedPrompts(template)  # no tensors: the frozen hand-crafted prompt
        self._knowledge_features: torch.Tensor | None = None

    def set_classnames(self, classnames: Sequence[str], token_embedding: nn.Embedding) -> None:
        super().set_classnames(classnames, token_embedding)
        self.knowledge.set_classnames(classnames, token_embedding)
        self._knowledge_features = None

    def knowledge_features(self, model) -> torch.Tensor:
        """Frozen CLIP's unit text features of the hand-crafted prompts, encoded once per class set."""
        weight = model.token_embedding.weight
        cached = self._knowledge_features
        if cached is None or cached.device != weight.device:
            t = self.knowledge.text_inputs({})
            with torch.no_grad():
                cached = F.normalize(model.text_encoder(t.embeddings, t.eot_index).float(), dim=-1)
            self._knowledge_features = cached
        return cached

    def regularizers(self, model, image_features: torch.Tensor, text_features: torch.Tensor,
                     logits: torch.Tensor) -> dict[str, torch.Tensor]:
        cos = F.cosine_similarity(text_features.float(), self.knowledge_features(model), dim=-1)
        return {"loss_kg": self.weight * (1.0 - cos.mean())}

    @classmethod
    def from_config(cls, c: KgCoOpConfig, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "KgCoOpLearner":
        return cls(token_embedding, n_cls, weight=c.W, template=resolve_template(c.TEMPLATE, dataset_name),
                   n_ctx=c.N_CTX, ctx_init=c.CTX_INIT, csc=c.CSC, class_token_position=c.CLASS_TOKEN_POSITION)
