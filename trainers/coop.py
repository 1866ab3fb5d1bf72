"""CoOp trainer (config node ``TRAINER.COOP``, keys as in the CoOp release).

Made from the learner registry (metaprompt/learners/coop.py holds the learner and its node's keys);
this module keeps the CoOp family's import path ``trainers.coop.CoOp``.
"""
from .learners import learner_trainer

CoOp = learner_trainer("CoOp", module=__name__)
