"""IVLP trainer: independent deep vision-language prompts (node ``TRAINER.IVLP``, PromptSRC's keys)."""
from yacs.config import CfgNode as CN

from metaprompt.config import config_extension
from metaprompt.learners import IVLPLearner
from metaprompt.runtime import register_trainer

from .base import PromptTrainer


@config_extension
def extend_cfg(cfg) -> None:
    cfg.TRAINER.IVLP = CN()
    cfg.TRAINER.IVLP.N_CTX_VISION = 4
    cfg.TRAINER.IVLP.N_CTX_TEXT = 4
    cfg.TRAINER.IVLP.CTX_INIT = "a photo of a"
    cfg.TRAINER.IVLP.PREC = "fp16"
    cfg.TRAINER.IVLP.PROMPT_DEPTH_VISION = 9  # counts the input layer; 0 = no visual prompts
    cfg.TRAINER.IVLP.PROMPT_DEPTH_TEXT = 9


@register_trainer
class IVLP(PromptTrainer):
    CFG_NODE = "IVLP"
    LEARNER = IVLPLearner
