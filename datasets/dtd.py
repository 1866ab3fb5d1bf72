"""Describable Textures (47 classes), CoOp layout: ``dtd/images/<class>/*``, ``split_zhou_DescribableTextures.json``.

A missing split: a 50/20/30 cut per class folder with the run's seed (sorted listing).
"""
from __future__ import annotations

from metaprompt.runtime import register_dataset

from .base import CoOpDataset, read_and_split_data


@register_dataset
class DescribableTextures(CoOpDataset):
    dataset_dir = "dtd"
    image_subdir = "images"
    split_name = "split_zhou_DescribableTextures.json"
    sources = {
        "images": "Extract dtd-r1.0.1.tar.gz (the DTD site) into the data root; it creates dtd/images/.",
        "split_zhou_DescribableTextures.json": "Download split_zhou_DescribableTextures.json (link in CoOp's "
                                               "DATASETS.md) into dtd/.",
    }
    download_hint = "Images: dtd-r1.0.1.tar.gz from the DTD site; split: CoOp's DATASETS.md link."
    published = {"train": (47, 2820), "val": (47, 1128), "test": (47, 1692)}

    def build_split(self):
        return read_and_split_data(self.image_dir)
