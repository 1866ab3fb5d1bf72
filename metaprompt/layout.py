"""One identity for the repository's top-level ``trainers/`` and ``datasets/`` folders.

They keep the CoOp family's layout and install as ``metaprompt.trainers`` and
``metaprompt.datasets`` (setup.py). From the repository root Python can also import them as
top-level ``trainers`` and ``datasets``: without care that loads every file a second time, under
another name, so ``trainers.coop.CoOp is not metaprompt.trainers.coop.CoOp`` and each class
would register twice. Their ``__init__`` calls :func:`alias_package` when imported under the
top-level name: the top-level names become the installed modules themselves.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys


def alias_package(alias: str, installed: str) -> None:
    """Make ``alias`` and each ``alias.<module>`` the very module objects of ``installed``."""
    package = importlib.import_module(installed)
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{installed}.{info.name}")
        sys.modules[f"{alias}.{info.name}"] = module
    sys.modules[alias] = package  # what the running `import alias` returns
