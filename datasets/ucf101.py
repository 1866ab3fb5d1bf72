"""UCF101 (middle frames), CoOp layout: ``ucf101/UCF-101-midframes/<Action_Name>/<video>.jpg``,
``split_zhou_UCF101.json``; building a missing split also needs ``ucfTrainTestlist/``.

Class names split the CamelCase action at capitals and join with "_" ("ApplyEyeMakeup" ->
"Apply_Eye_Makeup", also the frame folder's name). A missing split: labels from ``classInd.txt``;
``trainlist01.txt`` is cut 80/20 per class into train/val with the run's seed, ``testlist01.txt``
is the test split; ``.avi`` becomes ``.jpg``.
"""
from __future__ import annotations

import os
import re

from metaprompt.runtime import Datum, register_dataset

from .base import CoOpDataset, DatasetFileError, split_trainval

CLASS_IND, TRAIN_LIST, TEST_LIST = ("ucfTrainTestlist/classInd.txt", "ucfTrainTestlist/trainlist01.txt",
                                    "ucfTrainTestlist/testlist01.txt")


def split_camel_case(action: str) -> str:
    """Each capital starts a word: ``"YoYo"`` -> ``"Yo_Yo"``, ``"PlayingDaf"`` -> ``"Playing_Daf"``."""
    return "_".join(re.findall(r"[A-Z][^A-Z]*", action))


@register_dataset
class UCF101(CoOpDataset):
    dataset_dir = "ucf101"
    image_subdir = "UCF-101-midframes"
    split_name = "split_zhou_UCF101.json"
    split_sources = (CLASS_IND, TRAIN_LIST, TEST_LIST)
    sources = {
        "UCF-101-midframes": "Extract UCF-101-midframes.zip (link in CoOp's DATASETS.md) into ucf101/.",
        CLASS_IND: "Extract the UCF101 train/test split archive (the UCF101 site) into ucf101/.",
        TRAIN_LIST: "Extract the UCF101 train/test split archive (the UCF101 site) into ucf101/.",
        TEST_LIST: "Extract the UCF101 train/test split archive (the UCF101 site) into ucf101/.",
        "split_zhou_UCF101.json": "Download split_zhou_UCF101.json (link in CoOp's DATASETS.md) into ucf101/.",
    }
    download_hint = "Middle frames and split: the links in CoOp's DATASETS.md. Put them in ucf101/."
    published = {"train": (101, 7639), "val": (101, 1898), "test": (101, 3783)}

    def read_data(self, label_of: dict[str, int], list_file: str) -> list[Datum]:
        items = []
        with open(os.path.join(self.dataset_dir, list_file)) as f:
            for line in f:
                fields = line.split()
                if not fields:
                    continue
                action, video = fields[0].split("/")
                if action not in label_of:
                    raise DatasetFileError(f"{list_file}: action {action!r} is not in classInd.txt")
                name = split_camel_case(action)
                frame = os.path.splitext(video)[0] + ".jpg"
                items.append(Datum(impath=os.path.join(self.image_dir, name, frame), label=label_of[action],
                                   classname=name))
        return items

    def build_split(self):
        label_of = {}
        with open(os.path.join(self.dataset_dir, CLASS_IND)) as f:
            for line in f:
                if line.strip():
                    index, action = line.split()
                    label_of[action] = int(index) - 1
        trainval = self.read_data(label_of, TRAIN_LIST)
        test = self.read_data(label_of, TEST_LIST)
        train, val = split_trainval(trainval)
        return train, val, test
