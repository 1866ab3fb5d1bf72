"""MaPLe trainer: coupled vision-language prompts (node ``TRAINER.MAPLE``, MaPLe's keys).

Made from the learner registry (metaprompt/learners/maple.py holds the learner and its node's keys);
this module keeps the CoOp family's import path ``trainers.maple.MaPLe``.
"""
from .learners import learner_trainer

MaPLe = learner_trainer("MaPLe", module=__name__)
