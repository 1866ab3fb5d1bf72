"""Reading Dassl's pickled dataset caches without executing code from them.

The CoOp family's readers cache few-shot draws (``split_fewshot/shot_K-seed_S.pkl``) and
ImageNet's lists (``preprocessed.pkl``) as pickles of ``{"train": [Datum, ...], ...}``, where
``Datum`` is ``dassl.data.datasets.base_dataset.Datum`` holding an absolute image path. Plain
``pickle.load`` runs whatever a file says, so a cache from elsewhere is a way to run code. Here
the unpickler resolves exactly one global, that ``Datum``, to an inert record that accepts only
its four fields; every other global (``os.system``, ``builtins.eval``, ...) is refused before it
is looked up, so nothing named in the file is imported or called. Containers, strings and
numbers need no globals.

Paths from another machine or a moved dataset folder are remapped to the current image folder:
the part after the image folder's name (with the dataset folder's name before it, when it is
there) is joined to the current image folder.
"""
from __future__ import annotations

import io
import os
import pickle
import re
from typing import Sequence

from metaprompt.runtime import Datum

from .errors import DatasetFileError

DASSL_DATUM = ("dassl.data.datasets.base_dataset", "Datum")
_FIELDS = {"_impath": str, "_label": int, "_domain": int, "_classname": str}


class UnsafeCacheError(DatasetFileError):
    """A pickle that asks for something other than Dassl's ``Datum``: refused, nothing executed."""


class _DatumRecord:
    """What a pickled Dassl ``Datum`` is rebuilt into: four checked fields, no behaviour."""

    __slots__ = tuple(_FIELDS)

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]  # (dict, slots) form
        if not isinstance(state, dict) or "_impath" not in state or not set(state) <= set(_FIELDS):
            shown = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
            raise pickle.UnpicklingError(f"a Datum with unexpected fields: {shown}")
        for key, kind in _FIELDS.items():
            value = state.get(key, kind())
            if type(value) is not kind:
                raise pickle.UnpicklingError(f"a Datum whose {key[1:]} is a {type(value).__name__}, "
                                             f"not {kind.__name__}")
            object.__setattr__(self, key, value)


class _DatumOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == DASSL_DATUM:
            return _DatumRecord
        raise UnsafeCacheError(f"it references {module}.{name}, and a Dassl cache only holds "
                               f"{DASSL_DATUM[0]}.{DASSL_DATUM[1]} records")

    def persistent_load(self, pid):
        raise UnsafeCacheError("it uses persistent ids, which a Dassl cache never does")


def load_dassl_pickle(path: str) -> dict[str, list[_DatumRecord]]:
    """``{name: [record, ...]}`` from a Dassl cache; any other content is refused with a clear error."""
    what = ("Refusing to load {path}: {why}. Nothing in it was executed. Delete the file (a new draw is cached "
            "as JSON) or replace it with the original cache.")
    try:
        with open(path, "rb") as f:
            data = _DatumOnlyUnpickler(io.BytesIO(f.read())).load()
    except UnsafeCacheError as e:
        raise UnsafeCacheError(what.format(path=path, why=e)) from None
    except Exception as e:  # truncated or foreign files raise many kinds of errors
        why = f"it is not a readable Dassl cache ({type(e).__name__}: {e})"
        raise DatasetFileError(what.format(path=path, why=why)) from None
    if not (isinstance(data, dict) and all(isinstance(k, str) and isinstance(v, list) for k, v in data.items())
            and all(isinstance(x, _DatumRecord) for v in data.values() for x in v)):
        raise DatasetFileError(what.format(path=path, why="it is not a dict of Datum lists"))
    return data


def _parts(path: str) -> list[str]:
    return [p for p in re.split(r"[\\/]+", path) if p]


def remap_path(old: str, prefix: str) -> str | None:
    """Where ``old`` (an absolute path written elsewhere) lies under ``prefix`` now, or None.

    A path already under ``prefix`` is kept. Otherwise the last occurrence of prefix's last two
    names (e.g. ``oxford_pets/images``), then of its last name alone (the dataset folder was
    renamed), marks where the relative part starts.
    """
    if old.startswith(os.path.join(prefix, "")):
        return old
    parts, anchor = _parts(old), _parts(prefix)
    for n in (2, 1):
        tail = anchor[-n:]
        if len(tail) < n:
            continue
        for i in range(len(parts) - n - 1, -1, -1):
            if parts[i:i + n] == tail:
                return os.path.join(prefix, *parts[i + n:])
    return None


def read_dassl_lists(path: str, prefix: str, keys: Sequence[str], check_files: bool = False) -> dict[str, list[Datum]]:
    """The ``keys`` lists of a Dassl cache as runtime ``Datum`` objects with remapped paths.

    ``check_files``: every remapped image must exist (cheap for few-shot caches), so a cache
    written for another copy of the dataset is reported here rather than mid-training.
    """
    data = load_dassl_pickle(path)
    missing = [k for k in keys if k not in data]
    if missing:
        raise DatasetFileError(f"{path} has no {missing[0]!r} list (it holds {sorted(data)}). Delete it to draw again.")
    new_dirs: dict[str, str] = {}  # old folder -> new folder: the remap depends only on the folder

    def remapped(old: str) -> str:
        cut = max(old.rfind("/"), old.rfind("\\"))
        old_folder = old[:cut] if cut >= 0 else ""
        folder = new_dirs.get(old_folder)
        if folder is None:
            new = remap_path(old, prefix)
            if new is None:
                raise DatasetFileError(
                    f"{path} lists {old!r}, which cannot be mapped into {prefix} (no "
                    f"{os.path.basename(prefix)!r} folder in the path). Delete the cache to draw again.")
            folder = new_dirs[old_folder] = os.path.dirname(new)
        return os.path.join(folder, old[cut + 1:])

    out = {key: [Datum(impath=remapped(r._impath), label=r._label, domain=r._domain, classname=r._classname)
                 for r in data[key]] for key in keys}
    if check_files:
        absent = [d.impath for v in out.values() for d in v if not os.path.isfile(d.impath)]
        if absent:
            raise DatasetFileError(
                f"{path} lists {len(absent)} image(s) not found under {prefix} (first: {absent[0]}); it was written "
                "for another copy of the dataset. Restore those images, or delete the cache to draw the shots again.")
    return out
