"""Registered trainers (one thin module each). Importing this package registers them all."""
from . import coop, gram, ivlp, maple, prometar, promptsrc, vpt, zsclip  # noqa: F401
from .base import PromptTrainer
from .learners import register_all

register_all()  # a trainer for every registered learner without a module of its own

__all__ = ["PromptTrainer"]
