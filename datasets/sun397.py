"""SUN397, CoOp layout: ``sun397/SUN397/<letter>/<category>[/<sub>]/*.jpg``, the partition files
``ClassName.txt``, ``Training_01.txt``, ``Testing_01.txt``, and ``split_zhou_SUN397.json``.

Class names drop the leading letter folder and read the remaining folders backwards:
``/a/apartment_building/outdoor`` -> "outdoor apartment_building". A missing split: labels
follow ``ClassName.txt``; ``Training_01.txt`` is cut 80/20 per class into train/val with the
run's seed, ``Testing_01.txt`` is the test split.
"""
from __future__ import annotations

import os

from metaprompt.runtime import Datum, register_dataset

from .base import CoOpDataset, DatasetFileError, split_trainval


def readable_name(category: str) -> str:
    """``a/apartment_building/outdoor`` (no leading slash) -> "outdoor apartment_building"."""
    return " ".join(category.split("/")[1:][::-1])


@register_dataset
class SUN397(CoOpDataset):
    dataset_dir = "sun397"
    image_subdir = "SUN397"
    split_name = "split_zhou_SUN397.json"
    split_sources = ("ClassName.txt", "Training_01.txt", "Testing_01.txt")
    sources = {
        "SUN397": "Extract SUN397.tar.gz (the SUN database site) into sun397/.",
        "ClassName.txt": "Extract Partitions.zip (the SUN database site) into sun397/.",
        "Training_01.txt": "Extract Partitions.zip (the SUN database site) into sun397/.",
        "Testing_01.txt": "Extract Partitions.zip (the SUN database site) into sun397/.",
        "split_zhou_SUN397.json": "Download split_zhou_SUN397.json (link in CoOp's DATASETS.md) into sun397/.",
    }
    download_hint = "Images and partitions: the SUN database site; split: CoOp's DATASETS.md link."
    published = {"train": (397, 15880), "val": (397, 3970), "test": (397, 19850)}

    def read_data(self, label_of: dict[str, int], list_file: str) -> list[Datum]:
        items = []
        with open(os.path.join(self.dataset_dir, list_file)) as f:
            for line in f:
                relpath = line.strip().lstrip("/")
                if not relpath:
                    continue
                category = os.path.dirname(relpath)
                if category not in label_of:
                    raise DatasetFileError(f"{list_file}: category {category!r} is not in ClassName.txt")
                items.append(Datum(impath=os.path.join(self.image_dir, relpath), label=label_of[category],
                                   classname=readable_name(category)))
        return items

    def build_split(self):
        with open(os.path.join(self.dataset_dir, "ClassName.txt")) as f:
            categories = [line.strip().lstrip("/") for line in f if line.strip()]
        label_of = {c: i for i, c in enumerate(categories)}
        trainval = self.read_data(label_of, "Training_01.txt")
        test = self.read_data(label_of, "Testing_01.txt")
        train, val = split_trainval(trainval)
        return train, val, test
