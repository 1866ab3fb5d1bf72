"""Reading the MATLAB label files of Stanford Cars and Oxford Flowers (only needed to build a split)."""
from __future__ import annotations

from .base import DatasetFileError


def loadmat(path: str, key: str, fix: str):
    """The array ``key`` of a ``.mat`` file; an unreadable file or a missing entry is one error naming it."""
    try:
        from scipy.io import loadmat as _loadmat
    except ImportError:
        raise DatasetFileError(f"Reading {path} needs scipy (pip install scipy); it is only needed to build a "
                               "missing split file. Alternatively put the split_zhou_*.json file in place.") from None
    try:
        content = _loadmat(path)
    except Exception as e:  # scipy raises ValueError, TypeError, MatReadError, ... for a damaged file
        raise DatasetFileError(f"{path} is not a readable MATLAB file ({type(e).__name__}: {e}). {fix}") from None
    if key not in content:
        entries = sorted(k for k in content if not k.startswith("__"))
        raise DatasetFileError(f"{path} holds no {key!r} entry (it has {entries}). {fix}")
    return content[key]
