"""What the CoOp-family dataset readers share: split files, few-shot draws, base/new classes.

Rules (see the protocol doc): few-shot sampling uses the run's seeded ``random`` stream
(Dassl's ``generate_fewshot_dataset``), train then val with ``min(K, 4)``; the draw is cached
per (K, seed) in ``split_fewshot/`` as JSON with paths relative to the image folder, so a
moved dataset folder still works and reading a cache never executes code. Base/new selection
happens after few-shot sampling: sort the train labels, base = first ceil(n/2), new = the
rest, relabelled from 0.
"""
from __future__ import annotations

import math
import os
import random
from typing import Sequence

from metaprompt.errors import ConfigError, UserInputError
from metaprompt.runtime import DatasetBase, Datum, read_json, write_json

SUBSAMPLE_CHOICES = ("all", "base", "new")


class DatasetNotFoundError(UserInputError, FileNotFoundError):
    """A data root, dataset folder, split or annotation file that is not where it should be."""


def resolve_root(cfg) -> str:
    if not cfg.DATASET.ROOT:
        raise DatasetNotFoundError(
            f"DATASET.ROOT is not set: pass --root DIR (or DATA=DIR to the scripts), the folder that holds "
            f"the dataset folders (e.g. DIR/oxford_pets/). Dataset: {cfg.DATASET.NAME}."
        )
    return os.path.abspath(os.path.expanduser(cfg.DATASET.ROOT))


def require_path(path: str, what: str, fix: str) -> str:
    if not os.path.exists(path):
        raise DatasetNotFoundError(f"{what} not found: {path}. {fix}")
    return path


def missing_images_error(missing: Sequence[str], total: int | None, listed_in: str) -> DatasetNotFoundError:
    count = f"{len(missing)} of the {total} images this run uses are missing, e.g. " if total else "Image not found: "
    return DatasetNotFoundError(
        f"{count}{missing[0]} (listed in {listed_in}). The dataset folder is incomplete or was moved, or the split "
        "file lists images of another copy of the dataset: re-extract the images there."
    )


def make_datum(impath: str, label: int, classname: str, listed_in: str) -> Datum:
    """A ``Datum``; real Dassl's asserts that the image exists, which becomes a clear error here."""
    try:
        return Datum(impath=impath, label=label, classname=classname)
    except AssertionError:
        raise missing_images_error([impath], None, listed_in) from None


def check_images(items: Sequence[Datum], listed_in: str) -> None:
    """Fail now, with one message, if an image this run will read is missing (not mid-epoch)."""
    missing = [item.impath for item in items if not os.path.isfile(item.impath)]
    if missing:
        raise missing_images_error(missing, len(items), listed_in)


def read_split(filepath: str, path_prefix: str) -> tuple[list[Datum], list[Datum], list[Datum]]:
    """CoOp's ``split_zhou_*.json``: ``{"train": [[relpath, label, classname], ...], "val", "test"}``."""
    split = read_json(filepath)

    def convert(items):
        return [make_datum(os.path.join(path_prefix, p), int(y), c, filepath) for p, y, c in items]

    return convert(split["train"]), convert(split["val"]), convert(split["test"])


def _relative(items: Sequence[Datum], path_prefix: str) -> list[list]:
    """Paths relative to ``path_prefix`` (those outside it stay absolute)."""
    prefix = os.path.abspath(path_prefix)
    out = []
    for item in items:
        path = os.path.abspath(item.impath)
        if os.path.commonpath([path, prefix]) == prefix:
            path = os.path.relpath(path, prefix)
        out.append([path, item.label, item.classname])
    return out


def save_split(train, val, test, filepath: str, path_prefix: str) -> None:
    write_json({"train": _relative(train, path_prefix), "val": _relative(val, path_prefix),
                "test": _relative(test, path_prefix)}, filepath)
    print(f"Saved split to {filepath}")


def subsample_classes(*datasets: Sequence[Datum], subsample: str = "all") -> list[list[Datum]]:
    """Keep the base (first half, rounded up) or new classes of the sorted train labels; relabel from 0."""
    if subsample not in SUBSAMPLE_CHOICES:
        raise ConfigError(f"DATASET.SUBSAMPLE_CLASSES={subsample!r}: choose one of {SUBSAMPLE_CHOICES}")
    if subsample == "all":
        return [list(d) for d in datasets]
    labels = sorted({item.label for item in datasets[0]})
    m = math.ceil(len(labels) / 2)
    selected = labels[:m] if subsample == "base" else labels[m:]
    print(f"SUBSAMPLE {subsample.upper()} CLASSES!")
    relabeler = {y: i for i, y in enumerate(selected)}
    return [[Datum(item.impath, relabeler[item.label], item.domain, item.classname)
             for item in d if item.label in relabeler] for d in datasets]


def split_trainval(trainval: Sequence[Datum], p_val: float = 0.2) -> tuple[list[Datum], list[Datum]]:
    """Per label (in order of appearance): shuffle with the run's stream, first round(n*p_val) -> val."""
    by_label: dict[int, list[Datum]] = {}
    for item in trainval:
        by_label.setdefault(item.label, []).append(item)
    train, val = [], []
    for items in by_label.values():
        items = list(items)
        random.shuffle(items)
        n_val = round(len(items) * p_val)
        assert n_val > 0, "each class needs enough images for a validation sample"
        val.extend(items[:n_val])
        train.extend(items[n_val:])
    return train, val


def read_and_split_data(image_dir: str, p_trn: float = 0.5, p_val: float = 0.2, ignored: Sequence[str] = (),
                        new_cnames: dict | None = None) -> tuple[list[Datum], list[Datum], list[Datum]]:
    """Build a 50/20/30 per-class split from ``image_dir/<class>/*`` with the run's random stream.

    Folders and files are listed *sorted* (the reference lists them in filesystem order, so its
    generated splits differ between machines; sorting is this project's documented deviation).
    """
    categories = sorted(c for c in os.listdir(image_dir) if not c.startswith(".") and c not in ignored)
    train, val, test = [], [], []
    for label, category in enumerate(categories):
        folder = os.path.join(image_dir, category)
        images = [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if not f.startswith(".")]
        random.shuffle(images)
        n_total = len(images)
        n_train = round(n_total * p_trn)
        n_val = round(n_total * p_val)
        n_test = n_total - n_train - n_val
        assert n_train > 0 and n_val > 0 and n_test > 0, f"class folder {folder} has too few images to split"
        name = new_cnames.get(category, category) if new_cnames else category
        make = lambda paths: [make_datum(p, label, name, folder) for p in paths]  # noqa: E731
        train.extend(make(images[:n_train]))
        val.extend(make(images[n_train:n_train + n_val]))
        test.extend(make(images[n_train + n_val:]))
    return train, val, test


class CoOpDataset(DatasetBase):
    """Template of a CoOp-family reader; subclasses say where files are and how to build a split.

    Subclasses set ``dataset_dir`` (folder under the root), ``image_subdir`` and ``split_name``,
    and implement ``build_split()`` for the case where the split file is missing.
    """

    dataset_dir = ""
    image_subdir = "images"
    split_name = ""  # e.g. split_zhou_OxfordPets.json
    download_hint = "See the CoOp DATASETS.md instructions for this dataset."

    def __init__(self, cfg) -> None:
        root = resolve_root(cfg)
        self.dataset_dir = os.path.join(root, type(self).dataset_dir)
        self.prepare(self.dataset_dir)
        require_path(root, "Data root (DATASET.ROOT / --root)",
                     f"Pass the folder that holds the dataset folders (here: {type(self).dataset_dir}/).")
        require_path(self.dataset_dir, f"Dataset folder of {type(self).__name__}",
                     f"Put the dataset under --root as {type(self).dataset_dir}/. {self.download_hint}")
        self.image_dir = os.path.join(self.dataset_dir, self.image_subdir)
        self.split_path = os.path.join(self.dataset_dir, self.split_name)
        self.split_fewshot_dir = os.path.join(self.dataset_dir, "split_fewshot")

        if os.path.exists(self.split_path):
            train, val, test = read_split(self.split_path, self.image_dir)
        else:
            train, val, test = self.build_split()
            save_split(train, val, test, self.split_path, self.image_dir)

        num_shots = cfg.DATASET.NUM_SHOTS
        if num_shots >= 1:
            train, val = self.fewshot(train, val, num_shots, cfg.SEED)
        train, val, test = subsample_classes(train, val, test, subsample=cfg.DATASET.SUBSAMPLE_CLASSES)
        check_images(train + val + test, self.split_path)
        super().__init__(train_x=train, val=val, test=test)

    def prepare(self, dataset_dir: str) -> None:
        """Hook for datasets that can create themselves (the synthetic ones)."""

    def build_split(self) -> tuple[list[Datum], list[Datum], list[Datum]]:
        raise DatasetNotFoundError(
            f"Split file not found: {self.split_path}. {self.download_hint}"
        )

    def fewshot(self, train, val, num_shots: int, seed: int):
        """Draw K shots (always, so the random stream is the same with or without a cache); a cached
        draw for (K, seed) wins, so every method sees the same shots."""
        drawn_train = self.generate_fewshot_dataset(train, num_shots=num_shots)
        drawn_val = self.generate_fewshot_dataset(val, num_shots=min(num_shots, 4))
        cache = os.path.join(self.split_fewshot_dir, f"shot_{num_shots}-seed_{seed}.json")
        if os.path.exists(cache):
            print(f"Loading preprocessed few-shot data from {cache}")
            cached_train, cached_val, _ = read_split(cache, self.image_dir)
            return cached_train, cached_val
        if seed >= 0:
            print(f"Saving preprocessed few-shot data to {cache}")
            write_json({"train": _relative(drawn_train, self.image_dir), "val": _relative(drawn_val, self.image_dir),
                        "test": []}, cache)
        return drawn_train, drawn_val
