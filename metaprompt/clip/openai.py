"""OpenAI's CLIP code (the ``clip-anytorch`` distribution), immune to ``clip/`` folders that shadow it.

MaPLe-family checkouts (the ProMetaR release too) ship a patched ``clip/`` package whose ``CLIP``
takes an extra ``design_details`` argument. Run from such a checkout, ``import clip`` finds that
folder first (the script's folder leads ``sys.path``), and this project's code would build models
with the wrong class. So the project never imports ``clip`` by name when the name would resolve
elsewhere: it reads the installed distribution's file list and, unless ``import clip`` already
gives those very files, executes them as a package under a private module name. The checkout keeps
its own ``clip`` in ``sys.modules`` for its own trainers; nothing of the CLIP code is copied here.

Everything in the project takes CLIP from this module (``clip``, ``CLIP``, ``build_model``,
``convert_weights``, ``LayerNorm``, ``SimpleTokenizer``); a test keeps ``import clip`` out of the rest.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from types import ModuleType

from ..errors import UserInputError

DISTRIBUTIONS = ("clip-anytorch", "clip")  # PyPI's packaging of OpenAI's code; OpenAI's own setup.py
PRIVATE_NAME = "_metaprompt_openai_clip"


class ClipPackageError(UserInputError, ImportError):
    """OpenAI's CLIP code is not installed (only some other module named ``clip`` is, if any)."""


def _installed_init() -> str | None:
    """The ``clip/__init__.py`` an installed CLIP distribution holds, or None."""
    for name in DISTRIBUTIONS:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for f in dist.files or ():
            if str(f).replace("\\", "/") == "clip/__init__.py":
                path = os.path.realpath(str(dist.locate_file(f)))
                if os.path.isfile(path):
                    return path
    return None


def _found_by_name() -> str | None:
    """Where ``import clip`` would (or did) take the package from, without importing it."""
    try:
        spec = importlib.util.find_spec("clip")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    origin = spec.origin if spec.origin not in (None, "namespace") else next(iter(spec.submodule_search_locations
                                                                                  or ()), None)
    return os.path.realpath(origin) if origin else None


def _load_private(init: str) -> ModuleType:
    """Execute the distribution's package from its files as ``PRIVATE_NAME`` (relative imports work)."""
    if PRIVATE_NAME in sys.modules:
        return sys.modules[PRIVATE_NAME]
    spec = importlib.util.spec_from_file_location(PRIVATE_NAME, init,
                                                  submodule_search_locations=[os.path.dirname(init)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PRIVATE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[PRIVATE_NAME]
        raise
    return module


def _load() -> ModuleType:
    init = _installed_init()
    found = _found_by_name()
    if init is None:
        other = f" The module `clip` Python finds is {found}: another package (a checkout's patched clip/ " \
                "folder?), which this project does not use." if found else ""
        raise ClipPackageError(f"OpenAI's CLIP code is not installed.{other} Install it: pip install clip-anytorch "
                               "(the version in requirements/tested.txt).")
    if found == init:  # `import clip` is the distribution itself: share it (one CLIP class for everyone)
        return importlib.import_module("clip")
    return _load_private(init)


clip = _load()
for _sub in ("model", "simple_tokenizer"):  # `clip/__init__` imports them through `.clip`; check they came
    if not hasattr(clip, _sub):
        raise ClipPackageError(f"{clip.__file__} lacks clip.{_sub}: the installed clip-anytorch is incomplete. "
                               "Reinstall it: pip install --force-reinstall clip-anytorch.")
CLIP = clip.model.CLIP
LayerNorm = clip.model.LayerNorm
build_model = clip.model.build_model
convert_weights = clip.model.convert_weights
SimpleTokenizer = clip.simple_tokenizer.SimpleTokenizer
tokenize = clip.tokenize

__all__ = ["CLIP", "ClipPackageError", "LayerNorm", "SimpleTokenizer", "build_model", "clip", "convert_weights",
           "tokenize"]
