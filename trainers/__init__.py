"""Registered trainers (one thin module each). Importing this package registers them all."""
if __name__ == "metaprompt.trainers":
    from . import coop, gram, ivlp, maple, prometar, vpt, zsclip  # noqa: F401
    from .base import PromptTrainer

    __all__ = ["PromptTrainer"]
else:  # imported as the top-level ``trainers`` (from the repository root): the same modules, not a copy
    from metaprompt.layout import alias_package

    alias_package(__name__, "metaprompt.trainers")
