"""Registered datasets (one module each, CoOp's registry names). Importing registers them all."""
if __name__ == "metaprompt.datasets":
    from . import folder, oxford_pets, synthetic, toy  # noqa: F401
    from . import (caltech101, dtd, eurosat, fgvc_aircraft, food101, imagenet, imagenet_a, imagenet_r,  # noqa: F401
                   imagenet_sketch, imagenetv2, oxford_flowers, stanford_cars, sun397, ucf101)
    from .base import CoOpDataset, DatasetNotFoundError, read_split, save_split, subsample_classes

    __all__ = ["CoOpDataset", "DatasetNotFoundError", "read_split", "save_split", "subsample_classes"]
else:  # imported as the top-level ``datasets`` (from the repository root): the same modules, not a copy
    from metaprompt.layout import alias_package

    alias_package(__name__, "metaprompt.datasets")
