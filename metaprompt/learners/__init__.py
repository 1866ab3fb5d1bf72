"""Prompt learners: their tensors by stable name, and where those tensors go in CLIP.

Each learner module registers itself (:mod:`.registry`). The built-in ones are imported below in
the papers' order (the registry's, hence the results tables'); every other module of this package
is imported after them, so a new learner is one new file here (plus its recipe).
"""
import importlib
import pkgutil

from .base import ClassPrompts, PromptLearner, PromptSpec, TextInputs, VisionInputs
from .zeroshot import HandCraftedPrompts
from .coop import CoOpLearner
from .vpt import VPTLearner  # noqa: I001  (registers IVLP first: VPT builds on it)
from .ivlp import IVLPLearner
from .maple import MaPLeLearner
from .prompted_clip import PromptedCLIP
from .registry import LearnerEntry, config_node, entries, get_learner, get_meta_base, learner_names

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "recipes":  # a script the sweep scripts run by path
        importlib.import_module(f"{__name__}.{_module.name}")

# name -> registry entry (``LEARNERS[name].from_cfg(node, token_embedding, vision_width, n_cls)``)
LEARNERS = {e.name: e for e in entries()}

__all__ = ["LEARNERS", "ClassPrompts", "CoOpLearner", "HandCraftedPrompts", "IVLPLearner", "LearnerEntry",
           "MaPLeLearner", "PromptLearner", "PromptSpec", "PromptedCLIP", "TextInputs", "VPTLearner", "VisionInputs",
           "config_node", "entries", "get_learner", "get_meta_base", "learner_names"]
