"""PromptSRC's learner: IVLP's prompts under PromptSRC's node (Khattak et al., ICCV 2023).

The tensors and their placement are IVLP's (:mod:`.ivlp`). What makes PromptSRC is its training:
the L1 text / image and KL logit regularizers towards frozen CLIP, textual diversity (the text
target averages 60 templates) and Gaussian prompt aggregation over epochs. Those need frozen-CLIP
teachers (``metaprompt.meta.regularizers``), a layer above the learners, so they live in the
trainer ``trainers/promptsrc.py``; the weights are this node's keys.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .ivlp import IVLPConfig, IVLPLearner
from .registry import register_learner


@dataclass(frozen=True)
class PromptSRCConfig(IVLPConfig):
    """``TRAINER.PROMPTSRC``, the PromptSRC release's keys and defaults: IVLP's (the same release's)
    and its regularizers' (ints where the release's are)."""
    TEXT_LOSS_WEIGHT: float = 25  # L1 text-feature regularizer
    IMAGE_LOSS_WEIGHT: float = 10  # L1 image-feature regularizer
    GPA_MEAN: float = 15  # Gaussian prompt aggregation over epochs 1..MAX_EPOCH: mean and std (epochs)
    GPA_STD: float = 1


@register_learner("PromptSRC", "PROMPTSRC", PromptSRCConfig, recipe="vit_b16_c2_ep20_batch4_4+4ctx",
                  not_a_meta_base="its prompts are IVLP's and its regularizers live in its own trainer (ProMetaR "
                                  "already regularizes IVLP towards frozen CLIP as PromptSRC does): wrap IVLP.")
class PromptSRCLearner(IVLPLearner):
    @classmethod
    def from_config(cls, c: PromptSRCConfig, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "PromptSRCLearner":
        return cls(token_embedding, vision_width, n_ctx_text=c.N_CTX_TEXT, n_ctx_vision=c.N_CTX_VISION,
                   ctx_init=c.CTX_INIT, depth_text=c.PROMPT_DEPTH_TEXT, depth_vision=c.PROMPT_DEPTH_VISION)
