"""Registered trainers (one thin module each). Importing this package registers them all."""
from . import coop, gram, ivlp, maple, prometar, vpt, zsclip  # noqa: F401
from .base import PromptTrainer

__all__ = ["PromptTrainer"]
