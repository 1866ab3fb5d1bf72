"""Oxford Flowers 102, CoOp layout: ``oxford_flowers/jpg/image_00001.jpg ...``, ``imagelabels.mat``,
``cat_to_name.json``, ``split_zhou_OxfordFlowers.json``.

Labels are ``imagelabels.mat``'s 1-based ids minus one; class names come from ``cat_to_name.json``
(keyed by the 1-based id as a string). A missing split: classes in the order they first appear
in ``imagelabels.mat``, each cut 50/20/30 with the run's seed.
"""
from __future__ import annotations

import os

from metaprompt.runtime import register_dataset

from ._matlab import loadmat
from .base import CoOpDataset, DatasetFileError, read_json_file, split_per_class


@register_dataset
class OxfordFlowers(CoOpDataset):
    dataset_dir = "oxford_flowers"
    image_subdir = "jpg"
    split_name = "split_zhou_OxfordFlowers.json"
    split_sources = ("imagelabels.mat", "cat_to_name.json")
    sources = {
        "jpg": "Extract 102flowers.tgz (the Oxford 102 Flowers site) into oxford_flowers/.",
        "imagelabels.mat": "Put imagelabels.mat (the Oxford 102 Flowers site) in oxford_flowers/.",
        "cat_to_name.json": "Download cat_to_name.json (link in CoOp's DATASETS.md) into oxford_flowers/.",
        "split_zhou_OxfordFlowers.json": "Download split_zhou_OxfordFlowers.json (link in CoOp's DATASETS.md) into "
                                         "oxford_flowers/.",
    }
    download_hint = ("Images and imagelabels.mat: the Oxford 102 Flowers site; cat_to_name.json and the split: "
                     "CoOp's DATASETS.md links. Put them in oxford_flowers/.")
    published = {"train": (102, 4093), "val": (102, 1633), "test": (102, 2463)}

    def build_split(self):
        mat = os.path.join(self.dataset_dir, "imagelabels.mat")
        labels = loadmat(mat, "labels", self.fix_for("imagelabels.mat")).ravel()
        names = read_json_file(os.path.join(self.dataset_dir, "cat_to_name.json"), self.fix_for("cat_to_name.json"))
        if not isinstance(names, dict):
            raise DatasetFileError(f"{os.path.join(self.dataset_dir, 'cat_to_name.json')} must map label ids to names "
                                   f"({{\"1\": \"pink primrose\", ...}}). {self.fix_for('cat_to_name.json')}")
        by_label: dict[int, list[str]] = {}  # insertion order = first appearance
        for i, label in enumerate(labels):
            by_label.setdefault(int(label), []).append(os.path.join(self.image_dir, f"image_{i + 1:05d}.jpg"))
        unnamed = sorted(label for label in by_label if str(label) not in names)
        if unnamed:
            raise DatasetFileError(f"cat_to_name.json has no name for label(s) {unnamed[:5]}; use CoOp's file.")
        return split_per_class((label - 1, names[str(label)], paths) for label, paths in by_label.items())
