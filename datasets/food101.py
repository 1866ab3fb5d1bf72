"""Food-101, CoOp layout: ``food-101/images/<class>/*`` (the official archive), ``split_zhou_Food101.json``.

A missing split: a 50/20/30 cut per class folder with the run's seed (sorted listing).
"""
from __future__ import annotations

from metaprompt.runtime import register_dataset

from .base import CoOpDataset, read_and_split_data


@register_dataset
class Food101(CoOpDataset):
    dataset_dir = "food-101"
    image_subdir = "images"
    split_name = "split_zhou_Food101.json"
    sources = {
        "images": "Extract food-101.tar.gz (the Food-101 site) into the data root; it creates food-101/images/.",
        "split_zhou_Food101.json": "Download split_zhou_Food101.json (link in CoOp's DATASETS.md) into food-101/.",
    }
    download_hint = "Images: food-101.tar.gz from the Food-101 site; split: CoOp's DATASETS.md link."
    published = {"train": (101, 50500), "val": (101, 20200), "test": (101, 30300)}

    def build_split(self):
        return read_and_split_data(self.image_dir)
