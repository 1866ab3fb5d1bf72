"""Your own data without code: a folder of class folders, or a CSV/TSV of ``path,label[,split]``.

``DATASET.NAME Folder`` with ``DATASET.FOLDER.DIR`` (the dataset folder, under ``DATASET.ROOT``
or absolute). The sweep scripts set both when a dataset name has no ``configs/datasets/`` file but
names a folder under ``DATA`` (docs/datasets.md, "Your own data").

- **Layouts.** ``DIR/<class>/**/<image>`` (ImageFolder: every file with an image extension, in
  sub-folders too; ``split_fewshot/`` is the cache, not a class), or ``DIR/labels.csv`` /
  ``labels.tsv`` (or ``DATASET.FOLDER.CSV``): rows ``path,label[,split]``, paths relative to
  ``DIR``, an optional header row starting with ``path``/``image``/``file``, split one of
  train/val/test on every row or on none.
- **Classes.** Labels follow the sorted class keys (folder names or CSV labels; numerically when
  every key is an integer). Names come from the keys, or from ``DIR/classnames.txt`` (or
  ``DATASET.FOLDER.CLASSNAMES``): ``KEY NAME`` per line (``KEY<TAB>NAME`` for keys with spaces),
  the format of ImageNet's ``classnames.txt``. Underscores become spaces.
- **Splits.** A CSV split column is used as it is. Otherwise the first run cuts every class
  50/20/30 with its seed (``split_per_class``, the DTD/EuroSAT rule) and writes
  ``DIR/split_folder.json``; later runs read it, and refuse it if the images or names changed.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass

from PIL import Image
from yacs.config import CfgNode as CN

from metaprompt.config import config_extension
from metaprompt.errors import ConfigError
from metaprompt.runtime import Datum, register_dataset

from .base import (CoOpDataset, DatasetFileError, DatasetNotFoundError, Lists, list_dirs, make_datum,
                   missing_images_error, read_lists_json, split_per_class)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
CSV_NAMES = ("labels.csv", "labels.tsv")
NAMES_FILE = "classnames.txt"
SPLIT_FILE = "split_folder.json"
CACHE_DIR = "split_fewshot"
SPLITS = ("train", "val", "test")


@config_extension
def extend_cfg(cfg) -> None:
    cfg.DATASET.FOLDER = CN()
    cfg.DATASET.FOLDER.DIR = ""  # the dataset folder: under DATASET.ROOT, or absolute
    cfg.DATASET.FOLDER.CSV = ""  # "" = DIR/labels.csv or labels.tsv if present, else class folders
    cfg.DATASET.FOLDER.CLASSNAMES = ""  # "" = DIR/classnames.txt if present, else the keys


@dataclass(frozen=True)
class Record:
    relpath: str  # relative to the dataset folder
    key: str  # folder name or CSV label
    split: str = ""  # from a CSV split column


def readable(name: str) -> str:
    return " ".join(name.replace("_", " ").split())


def read_names_file(path: str) -> dict[str, str]:
    """``KEY NAME`` (or ``KEY<TAB>NAME``, or a bare ``KEY``) per line -> {key: name}."""
    names: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            key, _, name = line.partition("\t") if "\t" in line else line.strip().partition(" ")
            names[key.strip()] = name.strip() or key.strip()
    return names


def sort_keys(keys) -> list[str]:
    keys = set(keys)
    if all(k.lstrip("-").isdigit() for k in keys):
        return sorted(keys, key=int)
    return sorted(keys)


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def unreadable_images(paths: list[str]) -> list[tuple[str, str]]:
    """(path, reason) for every file PIL cannot open and verify."""
    bad = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.verify()
        except Exception as e:  # PIL raises many types for broken files
            bad.append((path, f"{type(e).__name__}: {e}".splitlines()[0]))
    return bad


@register_dataset
class Folder(CoOpDataset):
    image_subdir = ""  # paths in split files are relative to the dataset folder itself
    split_name = SPLIT_FILE
    download_hint = "See docs/datasets.md, 'Your own data': DIR/<class>/*.jpg, or DIR/labels.csv of path,label[,split]."
    generated_split_note = "later runs reuse it"

    def __init__(self, cfg) -> None:
        node = cfg.DATASET.FOLDER
        if not node.DIR:
            raise ConfigError("DATASET.FOLDER.DIR is empty: name the dataset folder (under DATASET.ROOT, or an "
                              "absolute path) that holds <class>/*.jpg or labels.csv.")
        self.options = (node.DIR, node.CSV, node.CLASSNAMES)
        super().__init__(cfg)

    @classmethod
    def located(cls, root: str, folder: str, csv_file: str = "", classnames: str = "") -> "Folder":
        """The reader for ``root/folder`` without loading anything (for the data checker)."""
        obj = cls.__new__(cls)
        obj.options = (folder, csv_file, classnames)
        obj.locate(os.path.abspath(os.path.expanduser(root)))
        return obj

    def locate(self, root: str) -> None:
        folder, csv_file, classnames = self.options
        self.root = root
        self.dataset_dir = os.path.join(root, os.path.expanduser(folder))
        self.image_dir = self.dataset_dir
        self.split_path = os.path.join(self.dataset_dir, SPLIT_FILE)
        self.split_fewshot_dir = os.path.join(self.dataset_dir, CACHE_DIR)
        self.csv_path = self._optional(csv_file, CSV_NAMES)
        self.names_path = self._optional(classnames, (NAMES_FILE,))
        self._scanned: list[Record] | None = None

    def _optional(self, given: str, defaults: tuple[str, ...]) -> str:
        if given:
            return os.path.join(self.dataset_dir, os.path.expanduser(given))
        return next((os.path.join(self.dataset_dir, d) for d in defaults
                     if os.path.isfile(os.path.join(self.dataset_dir, d))), "")

    def required_paths(self) -> tuple[str, ...]:
        return tuple(os.path.relpath(p, self.dataset_dir) for p in (self.csv_path, self.names_path) if p)

    def require(self, relpaths) -> None:
        if not os.path.isdir(self.dataset_dir):
            raise DatasetNotFoundError(f"Folder: dataset folder {self.dataset_dir} not found. Set DATASET.FOLDER.DIR "
                                       "(DATA=<the folder that holds it> for the scripts). " + self.download_hint)
        missing = self.first_missing(relpaths)
        if missing:
            raise DatasetNotFoundError(f"Folder: {os.path.join(self.dataset_dir, missing)} not found (named by "
                                       "DATASET.FOLDER.CSV / CLASSNAMES).")

    def fix_for(self, relpath: str) -> str:
        return self.download_hint

    # -- what is on disk ------------------------------------------------------------------------
    def scan(self) -> list[Record]:
        """Every image with its class key (and CSV split), checked: one error per kind of bad input."""
        if self._scanned is None:
            records = self._read_csv() if self.csv_path else self._read_class_folders()
            keys = {r.key for r in records}
            if len(keys) < 2:
                raise DatasetFileError(f"{self.dataset_dir} holds one class only ({next(iter(keys))!r}): a classifier "
                                       "needs at least two (base-to-new: one base and one new class at least).")
            self.names = self._names(keys)  # labels missing from the names file fail before any image is read
            self._scanned = records
        return self._scanned

    def _read_class_folders(self) -> list[Record]:
        records = []
        folders = list_dirs(self.dataset_dir, ignored=(CACHE_DIR,))
        if not folders:
            raise DatasetFileError(f"{self.dataset_dir} holds no class folders: put images in <class>/ sub-folders, "
                                   "or list them in labels.csv (path,label[,split]).")
        for folder in folders:
            found = []
            for dirpath, dirnames, filenames in os.walk(os.path.join(self.dataset_dir, folder)):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found += [os.path.relpath(os.path.join(dirpath, f), self.dataset_dir)
                          for f in sorted(filenames) if is_image(f)]
            if not found:
                raise DatasetFileError(f"class folder {os.path.join(self.dataset_dir, folder)} holds no images "
                                       f"({', '.join(IMAGE_EXTENSIONS)}): add images or remove the folder.")
            records += [Record(p, folder) for p in found]
        return records

    def _read_csv(self) -> list[Record]:
        path = self.csv_path
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t" if path.lower().endswith(".tsv") else ","))
        records, seen = [], {}
        for number, row in enumerate(rows, start=1):
            row = [c.strip() for c in row]
            if not any(row) or row[0].startswith("#"):
                continue
            if number == 1 and row[0].lower() in ("path", "image", "image_path", "filepath", "file"):
                continue  # a header
            if len(row) not in (2, 3) or not row[0] or not row[1]:
                raise DatasetFileError(f"{path}, row {number}: expected path,label[,split], got {row}.")
            rel = os.path.normpath(row[0])
            if rel in seen:
                raise DatasetFileError(f"{path}: duplicate path {row[0]} (rows {seen[rel]} and {number}); each image "
                                       "may appear once.")
            seen[rel] = number
            split = row[2].lower() if len(row) == 3 else ""
            if split and split not in SPLITS:
                raise DatasetFileError(f"{path}, row {number}: split {row[2]!r} is not one of {', '.join(SPLITS)}.")
            records.append(Record(rel, row[1], split))
        if not records:
            raise DatasetFileError(f"{path} lists no images: write one path,label[,split] row per image.")
        with_split = sum(bool(r.split) for r in records)
        if with_split not in (0, len(records)):
            raise DatasetFileError(f"{path}: {with_split} of {len(records)} rows name a split: give a split "
                                   "(train, val or test) on every row, or on none to have one made.")
        missing = [os.path.join(self.dataset_dir, r.relpath) for r in records
                   if not os.path.isfile(os.path.join(self.dataset_dir, r.relpath))]
        if missing:
            raise missing_images_error(missing, len(records), path)
        return records

    def _names(self, keys: set[str]) -> dict[str, str]:
        """key -> readable class name."""
        mapping = read_names_file(self.names_path) if self.names_path else {}
        if self.names_path:
            absent = sort_keys(k for k in keys if k not in mapping)
            if absent:
                raise DatasetFileError(f"{self.names_path} has no line for {len(absent)} of {len(keys)} labels, e.g. "
                                       f"{', '.join(absent[:5])}: add a 'KEY NAME' line for each.")
        return {k: readable(mapping.get(k, k)) for k in keys}

    def labelled(self) -> list[tuple[int, str, list[str], list[str]]]:
        """(label, name, absolute paths, CSV splits) per class, labels in sorted key order."""
        records, names = self.scan(), self.names
        by_key: dict[str, list[Record]] = {}
        for r in records:
            by_key.setdefault(r.key, []).append(r)
        return [(label, names[k], [os.path.join(self.dataset_dir, r.relpath) for r in by_key[k]],
                 [r.split for r in by_key[k]]) for label, k in enumerate(sort_keys(by_key))]

    def check_readable(self) -> None:
        paths = [os.path.join(self.dataset_dir, r.relpath) for r in self.scan()]
        bad = unreadable_images(paths)
        if bad:
            raise DatasetFileError(f"{len(bad)} of {len(paths)} images cannot be read as images, e.g. {bad[0][0]} "
                                   f"({bad[0][1]}): remove or replace them.")

    # -- the split lists --------------------------------------------------------------------------
    def read_lists(self) -> Lists | None:
        """The split file (checked against the data), the CSV's own split, or None: a split is to be built."""
        classes = self.labelled()
        if os.path.exists(self.split_path):
            print(f"Reading split from {self.split_path}")
            lists = read_lists_json(self.split_path, self.image_dir, SPLITS)
            self._check_current(lists, classes)
            return lists
        self.check_readable()
        if classes[0][3][0]:  # the CSV names the splits
            lists: Lists = {s: [] for s in SPLITS}
            for label, name, paths, splits in classes:
                for path, split in zip(paths, splits):
                    lists[split].append(make_datum(path, label, name, self.csv_path))
            empty = [s for s in SPLITS if not lists[s]]
            if empty:
                raise DatasetFileError(f"{self.csv_path}: no row is in the {empty[0]} split; every split needs images.")
            return lists
        return None

    def _check_current(self, lists: Lists, classes) -> None:
        """A split file must list exactly the images, labels and names there are now."""
        stored = {(d.impath, d.label, d.classname) for items in lists.values() for d in items}
        now = {(p, label, name) for label, name, paths, _ in classes for p in paths}
        if stored != now:
            changed = sorted(now ^ stored)[0]
            raise DatasetFileError(
                f"{self.split_path} was made for other images or class names ({len(stored)} entries there, "
                f"{len(now)} now; e.g. {changed[0]} as {changed[2]!r} is in one only): delete it and "
                f"{CACHE_DIR}/ to have a new split made.")

    def build_split(self) -> tuple[list[Datum], list[Datum], list[Datum]]:
        return split_per_class((label, name, paths) for label, name, paths, _ in self.labelled())
