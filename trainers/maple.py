"""MaPLe trainer: coupled vision-language prompts (node ``TRAINER.MAPLE``, MaPLe's keys)."""
from yacs.config import CfgNode as CN

from metaprompt.config import config_extension
from metaprompt.learners import MaPLeLearner
from metaprompt.runtime import register_trainer

from .base import PromptTrainer


@config_extension
def extend_cfg(cfg) -> None:
    cfg.TRAINER.MAPLE = CN()
    cfg.TRAINER.MAPLE.N_CTX = 2
    cfg.TRAINER.MAPLE.CTX_INIT = "a photo of a"
    cfg.TRAINER.MAPLE.PREC = "fp16"
    cfg.TRAINER.MAPLE.PROMPT_DEPTH = 9  # counts the input layer; at least 1


@register_trainer
class MaPLe(PromptTrainer):
    CFG_NODE = "MAPLE"
    LEARNER = MaPLeLearner
