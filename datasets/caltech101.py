"""Caltech101, CoOp layout: ``caltech-101/101_ObjectCategories/<class>/*``, ``split_zhou_Caltech101.json``.

100 classes: the ``BACKGROUND_Google`` and ``Faces_easy`` folders are left out, and four folder
names become readable class names (``airplanes`` -> "airplane", ``Faces`` -> "face", ...).
"""
from __future__ import annotations

from metaprompt.runtime import register_dataset

from .base import CoOpDataset, read_and_split_data

IGNORED = ("BACKGROUND_Google", "Faces_easy")
RENAMES = {"airplanes": "airplane", "Faces": "face", "Leopards": "leopard", "Motorbikes": "motorbike"}


@register_dataset
class Caltech101(CoOpDataset):
    dataset_dir = "caltech-101"
    image_subdir = "101_ObjectCategories"
    split_name = "split_zhou_Caltech101.json"
    sources = {
        "101_ObjectCategories": "Extract 101_ObjectCategories.tar.gz (the Caltech101 site) into caltech-101/.",
        "split_zhou_Caltech101.json": "Download split_zhou_Caltech101.json (link in CoOp's DATASETS.md) into "
                                      "caltech-101/.",
    }
    download_hint = "Images: 101_ObjectCategories.tar.gz from the Caltech101 site; split: CoOp's DATASETS.md link."
    published = {"train": (100, 4128), "val": (100, 1649), "test": (100, 2465)}

    def build_split(self):
        return read_and_split_data(self.image_dir, ignored=IGNORED, new_cnames=RENAMES)
