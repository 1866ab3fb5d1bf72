"""Prompt learners: their tensors by stable name, and where those tensors go in CLIP."""
from .base import ClassPrompts, PromptLearner, PromptSpec, TextInputs, VisionInputs
from .coop import CoOpLearner
from .ivlp import IVLPLearner
from .maple import MaPLeLearner
from .prompted_clip import PromptedCLIP
from .vpt import VPTLearner
from .zeroshot import HandCraftedPrompts

LEARNERS = {"CoOp": CoOpLearner, "VPT": VPTLearner, "IVLP": IVLPLearner, "MaPLe": MaPLeLearner,
            "ZeroshotCLIP": HandCraftedPrompts}

__all__ = ["LEARNERS", "ClassPrompts", "CoOpLearner", "HandCraftedPrompts", "IVLPLearner", "MaPLeLearner",
           "PromptLearner", "PromptSpec", "PromptedCLIP", "TextInputs", "VPTLearner", "VisionInputs"]
