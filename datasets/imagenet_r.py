"""ImageNet-R (renditions, 200 classes; test only), CoOp layout:
``imagenet-rendition/imagenet-r/<wnid>/*`` and ``classnames.txt``.

The 200 classes are renumbered 0..199 in sorted wnid order; ``README.txt`` is not a class.
"""
from __future__ import annotations

from metaprompt.runtime import register_dataset

from .base import TestOnlyDataset


@register_dataset
class ImageNetR(TestOnlyDataset):
    dataset_dir = "imagenet-rendition"
    image_subdir = "imagenet-r"
    sources = {**TestOnlyDataset.sources,
               "imagenet-r": "Extract imagenet-r.tar (the ImageNet-R authors' release) into imagenet-rendition/."}
    download_hint = ("Images: imagenet-r.tar from its authors' release; classnames.txt: a copy of "
                     "imagenet/classnames.txt.")
    published = {"test": (200, 30000)}

    def read_lists(self):
        return {"test": self.read_wnid_folders()}
