"""IVLP trainer: independent deep vision-language prompts (node ``TRAINER.IVLP``, PromptSRC's keys).

Made from the learner registry (metaprompt/learners/ivlp.py holds the learner and its node's keys);
this module keeps the CoOp family's import path ``trainers.ivlp.IVLP``.
"""
from .learners import learner_trainer

IVLP = learner_trainer("IVLP", module=__name__)
