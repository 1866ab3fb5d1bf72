"""ZeroshotCLIP: CLIP with a hand-crafted prompt and nothing to train (node ``TRAINER.ZSCLIP``).

For the zero-shot rows of results tables. ``train()`` trains 0 epochs and evaluates, so a sweep
script's training step still leaves a log with a test result; there is no checkpoint, and
``load_model`` has nothing to load.
"""
from yacs.config import CfgNode as CN

from metaprompt.config import config_extension
from metaprompt.learners import HandCraftedPrompts
from metaprompt.runtime import register_trainer

from .base import PromptTrainer


@config_extension
def extend_cfg(cfg) -> None:
    cfg.TRAINER.ZSCLIP = CN()
    # The text prompt; "{}" is the class name. "dataset": CoOp's per-dataset template
    # (e.g. "a photo of a {}, a type of pet." for OxfordPets).
    cfg.TRAINER.ZSCLIP.TEMPLATE = "a photo of a {}."
    cfg.TRAINER.ZSCLIP.PREC = "fp16"  # fp16, fp32, amp or bf16


@register_trainer
class ZeroshotCLIP(PromptTrainer):
    CFG_NODE = "ZSCLIP"
    LEARNER = HandCraftedPrompts
    TRAINS_PROMPTS = False

    def build_learner(self, clip_model, classnames) -> HandCraftedPrompts:
        learner = HandCraftedPrompts.from_cfg(self.node, clip_model.token_embedding, 0, len(classnames),
                                              dataset_name=self.cfg.DATASET.NAME)
        print(f"Zero-shot prompt template: {learner.template!r}")
        return learner

    def train(self) -> None:
        print("ZeroshotCLIP has no trainable prompt: training is skipped (0 epochs), no checkpoint is written.")
        if self.cfg.TEST.NO_TEST:
            print("TEST.NO_TEST is set: nothing to do.")
            return
        self.test()

    def load_model(self, directory: str, epoch=None) -> None:
        if directory:
            print(f"ZeroshotCLIP has no trained state: nothing to load from {directory}")
