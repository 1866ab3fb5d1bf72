"""ImageNet-Sketch (test only), CoOp layout: ``imagenet-sketch/images/<wnid>/*`` and ``classnames.txt``."""
from __future__ import annotations

from metaprompt.runtime import register_dataset

from .base import TestOnlyDataset


@register_dataset
class ImageNetSketch(TestOnlyDataset):
    dataset_dir = "imagenet-sketch"
    image_subdir = "images"
    sources = {**TestOnlyDataset.sources,
               "images": "Extract ImageNet-Sketch (the authors' release) into imagenet-sketch/ so that "
                         "imagenet-sketch/images/<wnid>/ holds the sketches."}
    download_hint = "Images: the ImageNet-Sketch authors' release; classnames.txt: a copy of imagenet/classnames.txt."
    published = {"test": (1000, 50889)}

    def read_lists(self):
        return {"test": self.read_wnid_folders()}
