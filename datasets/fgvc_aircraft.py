"""FGVC-Aircraft (100 variants), CoOp layout: the archive's ``data/`` renamed ``fgvc_aircraft/``:
``images/<id>.jpg``, ``variants.txt`` and ``images_variant_{train,val,test}.txt``.

No split file: the official lists are the split. Labels follow the line order of ``variants.txt``;
a list line is ``<image id> <variant name, may contain spaces>``.
"""
from __future__ import annotations

import os

from metaprompt.runtime import Datum, register_dataset

from .base import CoOpDataset, DatasetFileError

LISTS = {"train": "images_variant_train.txt", "val": "images_variant_val.txt", "test": "images_variant_test.txt"}


@register_dataset
class FGVCAircraft(CoOpDataset):
    dataset_dir = "fgvc_aircraft"
    image_subdir = "images"
    split_name = ""
    required = ("variants.txt", *LISTS.values())
    download_hint = ("Extract fgvc-aircraft-2013b.tar.gz (the FGVC-Aircraft site), keep its data/ folder and rename "
                     "it to fgvc_aircraft/ under the data root.")
    published = {"train": (100, 3334), "val": (100, 3333), "test": (100, 3333)}

    def read_lists(self):
        with open(os.path.join(self.dataset_dir, "variants.txt")) as f:
            variants = [line.strip() for line in f if line.strip()]
        label_of = {name: i for i, name in enumerate(variants)}
        lists = {}
        for split, filename in LISTS.items():
            items = []
            with open(os.path.join(self.dataset_dir, filename)) as f:
                for line in f:
                    image_id, _, variant = line.strip().partition(" ")
                    if not image_id:
                        continue
                    if variant not in label_of:
                        raise DatasetFileError(f"{filename}: variant {variant!r} is not in variants.txt")
                    impath = os.path.join(self.image_dir, image_id + ".jpg")
                    items.append(Datum(impath=impath, label=label_of[variant], classname=variant))
            lists[split] = items
        return lists
