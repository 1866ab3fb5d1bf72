"""ImageNet-1k, CoOp layout: ``imagenet/images/{train,val}/<wnid>/*`` and ``classnames.txt``
(``<wnid> <class name>`` per line; CLIP's class names).

Labels follow the sorted wnid folders of ``train/``; the val images are the test split and also
serve as val (so few-shot draws only train, as the reference does). Listing 1.3M files is slow,
so the lists are cached in ``preprocessed.json`` (paths relative to ``images/``); an existing
Dassl ``preprocessed.pkl`` is read without executing it (see ``legacy_cache``).
"""
from __future__ import annotations

import os

from metaprompt.runtime import Datum, register_dataset

from .base import (CoOpDataset, DatasetFileError, check_labels, list_dirs, list_files, read_classnames,
                   read_lists_json, relative_items, write_cache)

CACHE, LEGACY_CACHE = "preprocessed.json", "preprocessed.pkl"


@register_dataset
class ImageNet(CoOpDataset):
    dataset_dir = "imagenet"
    image_subdir = "images"
    split_name = ""
    required = ("images/train", "images/val", "classnames.txt")
    sources = {
        "images/train": "Extract the ILSVRC-2012 training images (the ImageNet site) into imagenet/images/train/ "
                        "(one folder per wnid), or link an existing copy there.",
        "images/val": "Put the ILSVRC-2012 validation images into imagenet/images/val/ sorted into one folder per "
                      "wnid, or link an existing copy there.",
        "classnames.txt": "Download classnames.txt (link in CoOp's DATASETS.md; CLIP's class names) into imagenet/.",
    }
    download_hint = "Images: the ImageNet site (ILSVRC-2012); classnames.txt: CoOp's DATASETS.md link."
    published = {"train": (1000, 1281167), "test": (1000, 50000)}

    def cache_paths(self) -> tuple[str, str]:
        return os.path.join(self.dataset_dir, CACHE), os.path.join(self.dataset_dir, LEGACY_CACHE)

    def read_lists(self):
        cache, legacy = self.cache_paths()
        if os.path.exists(cache):
            print(f"Reading the ImageNet lists from {cache}")
            return read_lists_json(cache, self.image_dir, ("train", "test"))
        if os.path.exists(legacy):
            from .legacy_cache import read_dassl_lists

            print(f"Reading the ImageNet lists from {legacy} (Dassl pickle, read without executing it)")
            return read_dassl_lists(legacy, self.image_dir, ("train", "test"))
        return self.list_folders()

    def list_folders(self):
        names = read_classnames(os.path.join(self.dataset_dir, "classnames.txt"))
        folders = list_dirs(os.path.join(self.image_dir, "train"))
        unknown = [f for f in folders if f not in names]
        if unknown:
            raise DatasetFileError(f"classnames.txt has no line for folder(s) {unknown[:5]} of images/train; use "
                                   "CoOp's classnames.txt (1000 lines).")
        lists = {}
        for split in ("train", "val"):
            items = []
            for label, wnid in enumerate(folders):
                folder = os.path.join(self.image_dir, split, wnid)
                if not os.path.isdir(folder):
                    raise DatasetFileError(f"{folder} not found: images/{split}/ needs the same wnid folders as "
                                           f"images/train/. {self.fix_for('images/' + split)}")
                items.extend(Datum(impath=os.path.join(folder, f), label=label, classname=names[wnid])
                             for f in list_files(folder))
            lists["test" if split == "val" else split] = items
        return lists

    def load_lists(self):
        lists = self.read_lists()
        cache, legacy = self.cache_paths()
        check_labels(lists, next((p for p in (cache, legacy) if os.path.exists(p)), self.image_dir), self.split_file_fix())
        if not os.path.exists(cache) and not os.path.exists(legacy):
            if write_cache({k: relative_items(v, self.image_dir) for k, v in lists.items()}, cache,
                           "the lists are read from the folders again next time", compact=True):
                print(f"Saved the ImageNet lists to {cache}")
        return lists
