"""Registered trainers (one thin module each). Importing this package registers them all."""
if __name__ == "metaprompt.trainers":
    from . import coop, gram, ivlp, maple, prometar, promptsrc, vpt, zsclip  # noqa: F401
    from .base import PromptTrainer
    from .learners import register_all

    register_all()  # a trainer for every registered learner without a module of its own

    __all__ = ["PromptTrainer"]
else:  # imported as the top-level ``trainers`` (from the repository root): the same modules, not a copy
    from metaprompt.layout import alias_package

    alias_package(__name__, "metaprompt.trainers")
