"""ZeroshotCLIP: CLIP with a hand-crafted prompt and nothing to train (node ``TRAINER.ZSCLIP``).

For the zero-shot rows of results tables. ``train()`` trains 0 epochs and evaluates, so a sweep
script's training step still leaves a log with a test result; there is no checkpoint, and
``load_model`` has nothing to load.
"""
from metaprompt.learners import HandCraftedPrompts

from .base import PromptTrainer
from .learners import own_trainer


@own_trainer  # its node TRAINER.ZSCLIP comes from the registry (metaprompt/learners/zeroshot.py)
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
