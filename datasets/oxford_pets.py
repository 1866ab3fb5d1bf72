"""Oxford-IIIT Pets (37 breeds), CoOp layout: ``oxford_pets/{images,annotations}``, ``split_zhou_OxfordPets.json``."""
from __future__ import annotations

import os

from metaprompt.runtime import Datum, register_dataset

from .base import CoOpDataset, make_datum, require_path, split_trainval


@register_dataset
class OxfordPets(CoOpDataset):
    dataset_dir = "oxford_pets"
    image_subdir = "images"
    split_name = "split_zhou_OxfordPets.json"
    download_hint = ("Images and annotations: the Oxford-IIIT Pet site; split_zhou_OxfordPets.json: the CoOp "
                     "DATASETS.md link. Put all of them in oxford_pets/.")

    def read_data(self, split_file: str) -> list[Datum]:
        """``annotations/<file>`` lines: ``<image> <class id 1..37> <species> <breed id>``."""
        path = require_path(os.path.join(self.dataset_dir, "annotations", split_file), "Annotation file",
                            self.download_hint)
        items = []
        with open(path) as f:
            for line in f:
                parts = line.strip().split(" ")
                if len(parts) < 2:
                    continue
                imname, label = parts[0], int(parts[1]) - 1
                breed = "_".join(imname.split("_")[:-1]).lower()
                items.append(make_datum(os.path.join(self.image_dir, imname + ".jpg"), label, breed, path))
        return items

    def build_split(self):
        trainval = self.read_data("trainval.txt")
        test = self.read_data("test.txt")
        train, val = split_trainval(trainval)
        return train, val, test
