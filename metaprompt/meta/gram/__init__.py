"""GRAM (Gradient-RegulAted Meta-prompt learning, Li et al., ICCV 2023), rebuilt from its abstract.

Offline meta-training on an image-text corpus (:mod:`.metatrain`) yields one artefact
(:mod:`.artefact`): a prompt initialization and a gradient regulator (:mod:`.regulator`) that
the ``GRAM`` trainer applies, frozen, to a wrapped learner's prompt tuning. See docs/gram.md for
which parts are the paper's and which are this project's design.
"""
from .artefact import Artefact, ArtefactError, check_compatible, load_artefact, save_artefact
from .config import BASE_NODES, add_gram_node, build_learner, learner_config
from .regulator import Regulator, RegulatorConfig

__all__ = ["Artefact", "ArtefactError", "BASE_NODES", "Regulator", "RegulatorConfig", "add_gram_node",
           "build_learner", "check_compatible", "learner_config", "load_artefact", "save_artefact"]
