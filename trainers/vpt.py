"""VPT trainer: deep visual prompts, hand-crafted text (node ``TRAINER.VPT``).

Made from the learner registry (metaprompt/learners/vpt.py holds the learner and its node's keys);
this module keeps the CoOp family's import path ``trainers.vpt.VPT``.
"""
from .learners import learner_trainer

VPT = learner_trainer("VPT", module=__name__)
