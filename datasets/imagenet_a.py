"""ImageNet-A (natural adversarial examples, 200 classes; test only), CoOp layout:
``imagenet-adversarial/imagenet-a/<wnid>/*`` and ``classnames.txt``.

The 200 classes are renumbered 0..199 in sorted wnid order; ``README.txt`` is not a class.
"""
from __future__ import annotations

from metaprompt.runtime import register_dataset

from .base import TestOnlyDataset


@register_dataset
class ImageNetA(TestOnlyDataset):
    dataset_dir = "imagenet-adversarial"
    image_subdir = "imagenet-a"
    sources = {**TestOnlyDataset.sources,
               "imagenet-a": "Extract imagenet-a.tar (the natural adversarial examples release) into "
                             "imagenet-adversarial/."}
    download_hint = ("Images: imagenet-a.tar from its authors' release; classnames.txt: a copy of "
                     "imagenet/classnames.txt.")
    published = {"test": (200, 7500)}

    def read_lists(self):
        return {"test": self.read_wnid_folders()}
