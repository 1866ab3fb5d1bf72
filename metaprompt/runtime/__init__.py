"""One import switch: real Dassl when it is importable, the built-in runtime otherwise.

``METAPROMPT_RUNTIME=builtin`` (or ``train.py --runtime builtin``) forces the built-in runtime
even when Dassl is installed; ``METAPROMPT_RUNTIME=dassl`` demands Dassl and fails if it is
missing. Trainers and datasets import everything runtime-related from here, so the same classes
run on both.
"""
from __future__ import annotations

import importlib.util
import os

from ..errors import UserInputError
from .checkpoint import CheckpointError, SafeCheckpointMixin
from .optim import build_lr_scheduler, build_optimizer


class RuntimeChoiceError(UserInputError, ImportError):
    """METAPROMPT_RUNTIME names no runtime, or one that is not installed."""


_choice = os.environ.get("METAPROMPT_RUNTIME", "auto").strip().lower()
if _choice not in ("auto", "builtin", "dassl"):
    raise RuntimeChoiceError(f"METAPROMPT_RUNTIME={_choice!r}: use 'auto', 'builtin' or 'dassl'.")


def dassl_install() -> str | None:
    """The folder of an importable Dassl, or None. A ``dassl`` folder that lacks Dassl's packages (an
    empty or namespace folder in the working directory, say) is not mistaken for an install."""
    try:
        spec = importlib.util.find_spec("dassl")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin in (None, "namespace"):  # no ``__init__.py``: not a Dassl package
        return None
    folder = os.path.dirname(spec.origin)
    parts = ("config", "engine", os.path.join("data", "datasets"), "utils")
    return folder if all(os.path.isfile(os.path.join(folder, p, "__init__.py")) for p in parts) else None


def _import_dassl() -> bool:
    if _choice == "builtin":
        return False
    if dassl_install() is None:
        if _choice == "dassl":
            raise RuntimeChoiceError("The Dassl runtime was requested (--runtime / METAPROMPT_RUNTIME) but Dassl "
                                     "is not installed. Install it (see docs/dassl.md) or use the built-in "
                                     "runtime (--runtime builtin).") from None
        return False
    try:
        import dassl.engine  # noqa: F401
    except ImportError as e:  # Dassl is there but cannot import (a dependency missing): say which
        raise RuntimeChoiceError(f"Dassl at {dassl_install()} does not import ({type(e).__name__}: {e}). Install "
                                 "what it needs (see docs/dassl.md), or use the built-in runtime "
                                 "(METAPROMPT_RUNTIME=builtin / train.py --runtime builtin).") from None
    return True


if _import_dassl():
    BACKEND = "dassl"
    from dassl.config import get_cfg_default
    from dassl.data.datasets import DATASET_REGISTRY, DatasetBase, Datum
    from dassl.engine import TRAINER_REGISTRY, TrainerX, build_trainer
    from dassl.utils import (
        collect_env_info,
        listdir_nohidden,
        mkdir_if_missing,
        read_json,
        set_random_seed,
        setup_logger,
        write_json,
    )
else:
    BACKEND = "builtin"
    from .builtin import (
        DATASET_REGISTRY,
        TRAINER_REGISTRY,
        DatasetBase,
        Datum,
        TrainerX,
        build_trainer,
        collect_env_info,
        get_cfg_default,
        listdir_nohidden,
        mkdir_if_missing,
        read_json,
        set_random_seed,
        setup_logger,
        write_json,
    )


# Names a checkout (a CoOp-family repository whose train.py imports this project) registered with
# its own classes: name -> the module of the class that keeps the name. See metaprompt.dassl_plugin.
LEFT_TO_CHECKOUT: dict[str, str] = {}


def is_project_class(obj) -> bool:
    return (getattr(obj, "__module__", "") or "").split(".")[0] == "metaprompt"


def _register(registry, obj):
    """Register ``obj`` (again: nothing happens).

    A name that a class from outside this project already holds (a CoOp-family checkout's own
    ``CoOp`` or ``OxfordPets``, registered before this package was imported) is left to it and
    recorded in ``LEFT_TO_CHECKOUT``; two different classes of this project with one name clash.
    """
    existing = registry._obj_map.get(obj.__name__)
    if existing is None:
        registry.register(obj)
    elif existing is obj:
        pass
    elif is_project_class(obj) and not is_project_class(existing):
        LEFT_TO_CHECKOUT[obj.__name__] = existing.__module__
    else:
        raise KeyError(
            f"Two different classes are named {obj.__name__!r}: {existing.__module__} and {obj.__module__}. "
            "Rename one of them."
        )
    return obj


def register_trainer(cls):
    return _register(TRAINER_REGISTRY, cls)


def register_dataset(cls):
    return _register(DATASET_REGISTRY, cls)


__all__ = [
    "BACKEND", "CheckpointError", "DATASET_REGISTRY", "DatasetBase", "Datum", "LEFT_TO_CHECKOUT",
    "RuntimeChoiceError", "SafeCheckpointMixin",
    "TRAINER_REGISTRY", "TrainerX", "build_lr_scheduler", "build_optimizer", "build_trainer",
    "collect_env_info", "dassl_install", "get_cfg_default", "is_project_class", "listdir_nohidden",
    "mkdir_if_missing", "read_json", "register_dataset", "register_trainer", "set_random_seed", "setup_logger",
    "write_json",
]
