"""Reading the MATLAB label files of Stanford Cars and Oxford Flowers (only needed to build a split)."""
from __future__ import annotations

from .base import DatasetFileError


def loadmat(path: str) -> dict:
    try:
        from scipy.io import loadmat as _loadmat
    except ImportError:
        raise DatasetFileError(f"Reading {path} needs scipy (pip install scipy); it is only needed to build a "
                               "missing split file. Alternatively put the split_zhou_*.json file in place.") from None
    return _loadmat(path)
