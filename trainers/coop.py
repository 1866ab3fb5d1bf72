"""CoOp trainer (config node ``TRAINER.COOP``, keys as in the CoOp release)."""
from yacs.config import CfgNode as CN

from metaprompt.config import config_extension
from metaprompt.learners import CoOpLearner
from metaprompt.runtime import register_trainer

from .base import PromptTrainer


@config_extension
def extend_cfg(cfg) -> None:
    cfg.TRAINER.COOP = CN()
    cfg.TRAINER.COOP.N_CTX = 16  # number of context vectors
    cfg.TRAINER.COOP.CSC = False  # class-specific context
    cfg.TRAINER.COOP.CTX_INIT = ""  # initialization words (sets N_CTX to their count)
    cfg.TRAINER.COOP.PREC = "fp16"  # fp16, fp32, amp or bf16
    cfg.TRAINER.COOP.CLASS_TOKEN_POSITION = "end"  # end, middle or front


@register_trainer
class CoOp(PromptTrainer):
    CFG_NODE = "COOP"
    LEARNER = CoOpLearner
