"""Registered datasets (one module each, CoOp's registry names). Importing registers them all."""
from . import oxford_pets, synthetic  # noqa: F401
from .base import CoOpDataset, DatasetNotFoundError, read_split, save_split, subsample_classes

__all__ = ["CoOpDataset", "DatasetNotFoundError", "read_split", "save_split", "subsample_classes"]
