"""Oxford-IIIT Pets (37 breeds), CoOp layout: ``oxford_pets/{images,annotations}``, ``split_zhou_OxfordPets.json``.

Class names are the lower-cased breed part of the image names (``Abyssinian_12`` -> "abyssinian").
A missing split: ``annotations/trainval.txt`` is cut 80/20 per class into train/val with the
run's seed, ``annotations/test.txt`` is the test split.
"""
from __future__ import annotations

import os

from metaprompt.runtime import Datum, register_dataset

from .base import CoOpDataset, DatasetFileError, make_datum, split_trainval


@register_dataset
class OxfordPets(CoOpDataset):
    dataset_dir = "oxford_pets"
    image_subdir = "images"
    split_name = "split_zhou_OxfordPets.json"
    split_sources = ("annotations/trainval.txt", "annotations/test.txt")
    sources = {
        "images": "Extract images.tar.gz (the Oxford-IIIT Pet site) into oxford_pets/.",
        "annotations/trainval.txt": "Extract annotations.tar.gz (the Oxford-IIIT Pet site) into oxford_pets/.",
        "annotations/test.txt": "Extract annotations.tar.gz (the Oxford-IIIT Pet site) into oxford_pets/.",
        "split_zhou_OxfordPets.json": "Download split_zhou_OxfordPets.json (link in CoOp's DATASETS.md) into "
                                      "oxford_pets/.",
    }
    download_hint = ("Images and annotations: the Oxford-IIIT Pet site; split_zhou_OxfordPets.json: the CoOp "
                     "DATASETS.md link. Put all of them in oxford_pets/.")
    published = {"train": (37, 2944), "val": (37, 736), "test": (37, 3669)}

    def read_data(self, split_file: str) -> list[Datum]:
        """``annotations/<file>`` lines: ``<image> <class id 1..37> <species> <breed id>``."""
        items = []
        path = os.path.join(self.dataset_dir, "annotations", split_file)
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                parts = line.split()
                if len(parts) < 2 or parts[0].startswith("#"):
                    continue
                if not (parts[1].isascii() and parts[1].isdigit()) or int(parts[1]) < 1:
                    raise DatasetFileError(
                        f"{path}, line {number}: class id {parts[1]!r} is not an integer 1..37 ({line.strip()!r}). "
                        f"{self.fix_for('annotations/' + split_file)}")
                imname, label = parts[0], int(parts[1]) - 1
                breed = "_".join(imname.split("_")[:-1]).lower()
                items.append(make_datum(os.path.join(self.image_dir, imname + ".jpg"), label, breed, split_file))
        return items

    def build_split(self):
        trainval = self.read_data("trainval.txt")
        test = self.read_data("test.txt")
        train, val = split_trainval(trainval)
        return train, val, test
