"""Stanford Cars (196 models), CoOp layout: ``stanford_cars/{cars_train,cars_test,devkit}``,
``split_zhou_StanfordCars.json`` (paths relative to the dataset folder, e.g. ``cars_train/00001.jpg``).

Class names put the year first: "AM General Hummer SUV 2000" -> "2000 AM General Hummer SUV".
A missing split: the devkit's train annotations are cut 80/20 per class into train/val with the
run's seed; ``cars_test_annos_withlabels.mat`` is the test split.
"""
from __future__ import annotations

import os

from metaprompt.runtime import Datum, register_dataset

from ._matlab import loadmat
from .base import CoOpDataset, split_trainval

TRAIN_ANNOS, META, TEST_ANNOS = "devkit/cars_train_annos.mat", "devkit/cars_meta.mat", "cars_test_annos_withlabels.mat"


def year_first(name: str) -> str:
    words = name.split(" ")
    return " ".join(words[-1:] + words[:-1])


@register_dataset
class StanfordCars(CoOpDataset):
    dataset_dir = "stanford_cars"
    image_subdir = ""
    split_name = "split_zhou_StanfordCars.json"
    required = ("cars_train", "cars_test")
    split_sources = (TRAIN_ANNOS, META, TEST_ANNOS)
    sources = {
        "cars_train": "Extract cars_train.tgz (the Stanford Cars site) into stanford_cars/.",
        "cars_test": "Extract cars_test.tgz (the Stanford Cars site) into stanford_cars/.",
        TRAIN_ANNOS: "Extract car_devkit.tgz (the Stanford Cars site) into stanford_cars/.",
        META: "Extract car_devkit.tgz (the Stanford Cars site) into stanford_cars/.",
        TEST_ANNOS: "Put cars_test_annos_withlabels.mat (the Stanford Cars site) in stanford_cars/.",
        "split_zhou_StanfordCars.json": "Download split_zhou_StanfordCars.json (link in CoOp's DATASETS.md) into "
                                        "stanford_cars/.",
    }
    download_hint = ("Images, devkit and test labels: the Stanford Cars site; split: CoOp's DATASETS.md link. "
                     "Put them in stanford_cars/.")
    published = {"train": (196, 6509), "val": (196, 1635), "test": (196, 8041)}

    def read_data(self, image_folder: str, annos_file: str) -> list[Datum]:
        annos = loadmat(os.path.join(self.dataset_dir, annos_file), "annotations", self.fix_for(annos_file))[0]
        names = loadmat(os.path.join(self.dataset_dir, META), "class_names", self.fix_for(META))[0]
        items = []
        for anno in annos:
            label = int(anno["class"][0, 0]) - 1
            impath = os.path.join(self.dataset_dir, image_folder, str(anno["fname"][0]))
            items.append(Datum(impath=impath, label=label, classname=year_first(str(names[label][0]))))
        return items

    def build_split(self):
        trainval = self.read_data("cars_train", TRAIN_ANNOS)
        test = self.read_data("cars_test", TEST_ANNOS)
        train, val = split_trainval(trainval)
        return train, val, test
