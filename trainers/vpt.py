"""VPT trainer: deep visual prompts, hand-crafted text (node ``TRAINER.VPT``)."""
from yacs.config import CfgNode as CN

from metaprompt.config import config_extension
from metaprompt.learners import VPTLearner
from metaprompt.runtime import register_trainer

from .base import PromptTrainer


@config_extension
def extend_cfg(cfg) -> None:
    cfg.TRAINER.VPT = CN()
    cfg.TRAINER.VPT.N_CTX_VISION = 8
    cfg.TRAINER.VPT.CTX_INIT = "a photo of a"  # the fixed text prompt: "a photo of a {class}."
    cfg.TRAINER.VPT.PREC = "fp16"
    cfg.TRAINER.VPT.PROMPT_DEPTH_VISION = 12  # counts the input layer


@register_trainer
class VPT(PromptTrainer):
    CFG_NODE = "VPT"
    LEARNER = VPTLearner
