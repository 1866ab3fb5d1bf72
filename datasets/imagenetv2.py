"""ImageNetV2 (matched frequency; test only), CoOp layout:
``imagenetv2/imagenetv2-matched-frequency-format-val/<0..999>/*`` and ``classnames.txt``.

Folder ``i`` holds class ``i``: the i-th line of ImageNet's ``classnames.txt`` (by position, not wnid).
"""
from __future__ import annotations

from metaprompt.runtime import register_dataset

from .base import TestOnlyDataset


@register_dataset
class ImageNetV2(TestOnlyDataset):
    dataset_dir = "imagenetv2"
    image_subdir = "imagenetv2-matched-frequency-format-val"
    sources = {
        **TestOnlyDataset.sources,
        "imagenetv2-matched-frequency-format-val": "Extract imagenetv2-matched-frequency.tar.gz (the ImageNetV2 "
                                                   "authors' release) into imagenetv2/.",
    }
    download_hint = ("Images: imagenetv2-matched-frequency.tar.gz from the ImageNetV2 authors; classnames.txt: a "
                     "copy of imagenet/classnames.txt.")
    published = {"test": (1000, 10000)}

    def read_lists(self):
        names = list(self.classnames_by_wnid().values())
        return {"test": self.read_class_folders([(str(i), name) for i, name in enumerate(names)])}
