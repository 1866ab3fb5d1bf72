"""What the CoOp-family dataset readers share: layouts, split files, few-shot draws, base/new classes.

Rules (see docs/datasets.md and the protocol doc):

- A split file (``split_zhou_*.json``) holds ``{"train"|"val"|"test": [[relpath, label, classname]]}``
  with paths relative to the image folder. When it is missing, the dataset builds one from its
  sources with the run's seeded ``random`` stream (before the few-shot draw) and saves it.
- Few-shot sampling is Dassl's ``generate_fewshot_dataset`` on the run's stream: train with K,
  then val with ``min(K, 4)``. The draw is cached per (K, seed) in ``split_fewshot/`` as JSON
  with relative paths; an existing cache (ours, or a Dassl pickle read by ``legacy_cache``
  without executing it) wins over the fresh draw. The draw happens either way, so the random
  stream after the dataset is built is the same with or without a cache.
- Base/new selection happens after few-shot sampling: sort the train labels, base = first
  ceil(n/2), new = the rest, relabelled from 0.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import tempfile
import warnings
from typing import Callable, Iterable, Sequence

from PIL import Image

from metaprompt.errors import ConfigError
from metaprompt.runtime import DatasetBase, Datum, read_json

from .errors import DatasetFileError, DatasetNotFoundError  # noqa: F401  (also imported from here)

SUBSAMPLE_CHOICES = ("all", "base", "new")
Lists = dict  # split name ("train", "val", "test") -> list[Datum]


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


def missing_images_error(missing: Sequence[str], total: int | None, listed_in: str) -> "DatasetNotFoundError":
    count = f"{len(missing)} of the {total} images this run uses are missing, e.g. " if total else "Image not found: "
    return DatasetNotFoundError(
        f"{count}{missing[0]} (listed in {listed_in}). The dataset folder is incomplete or was moved, or the split "
        "file lists images of another copy of the dataset: re-extract the images there."
    )


def make_datum(impath: str, label: int, classname: str, listed_in: str = "the split file") -> Datum:
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


def write_json_atomic(obj, path: str, compact: bool = False) -> None:
    """Write through a temporary file, so an interrupted run never leaves half a split or cache."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            if compact:
                json.dump(obj, f, separators=(",", ":"))
            else:
                json.dump(obj, f, indent=4, separators=(",", ": "))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_cache(obj, path: str, why_optional: str, compact: bool = False) -> bool:
    """Write an optional cache; on a read-only data root warn and carry on (False) instead of failing."""
    try:
        write_json_atomic(obj, path, compact)
        return True
    except OSError as e:
        warnings.warn(f"Could not write the cache {path} ({type(e).__name__}: {e.strerror or e}); continuing "
                      f"without it ({why_optional}).")
        return False


def to_datums(items: Iterable, path_prefix: str) -> list[Datum]:
    out = []
    for p, y, c in items:
        if isinstance(y, bool) or not isinstance(y, int):  # 1.5 or "3" would be read as another class
            raise ValueError(f"the label of {p!r} is {y!r}, not an integer")
        out.append(make_datum(os.path.join(path_prefix, p), y, c))
    return out


def relative_items(items: Sequence[Datum], path_prefix: str) -> list[list]:
    """``[[relpath, label, classname], ...]``; paths outside ``path_prefix`` stay as they are."""
    prefix = os.path.join(path_prefix, "")
    out = []
    for item in items:
        path = item.impath
        if path.startswith(prefix):
            path = path[len(prefix):]
        out.append([path, item.label, item.classname])
    return out


SPLIT_FILE_FIX = "Replace it with the original or delete it to build a new one."


def read_lists_json(filepath: str, path_prefix: str, keys: Sequence[str], fix: str = SPLIT_FILE_FIX) -> Lists:
    """A split file or few-shot cache; ``keys`` are the lists it must hold; ``fix`` what to do if it is bad."""
    if os.path.isdir(filepath):
        raise DatasetFileError(f"{filepath} is a folder, not a split file. {fix}")
    try:
        data = read_json(filepath)
        missing = [k for k in keys if k not in data]
        if missing:
            raise KeyError(f"no {missing[0]!r} list")
        return {k: to_datums(data[k], path_prefix) for k in keys}
    except (ValueError, KeyError, TypeError, OSError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DatasetFileError(
            f"{filepath} is not a valid split file ({type(e).__name__}: {e}); it must hold "
            f'{{{", ".join(repr(k) for k in keys)}: [[relative path, label, class name], ...]}}. {fix}'
        ) from None


def read_json_file(filepath: str, fix: str):
    """A JSON file a dataset needs (``cat_to_name.json``, ...): an unreadable one is one error naming it."""
    try:
        return read_json(filepath)
    except (ValueError, OSError) as e:
        raise DatasetFileError(f"{filepath} is not readable JSON ({type(e).__name__}: {e}). {fix}") from None


def check_labels(lists: Lists, listed_in: str, fix: str = SPLIT_FILE_FIX) -> None:
    """Labels must run 0..n-1 over the train classes, and val/test may only use those labels.

    Dassl counts classes as ``max(label) + 1`` and names them from the train split, so a gap or an
    out-of-range test label would silently become a nameless class or an always-wrong prediction.
    """
    first = "train" if "train" in lists else next(iter(lists))  # test-only sets have one list
    labels = sorted({d.label for d in lists[first]})
    if not labels:
        raise DatasetFileError(f"{listed_in}: the {first} split is empty. {fix}")
    if labels[0] != 0 or labels[-1] != len(labels) - 1:
        gaps = sorted(set(range(max(labels[-1] + 1, 0))) - set(labels))
        raise DatasetFileError(
            f"{listed_in}: the {first} labels are not 0..{len(labels) - 1} (labels {labels[0]}..{labels[-1]}"
            + (f", none for {gaps[:5]}" if gaps else "") + f"); labels must be contiguous from 0. {fix}")
    for split, items in lists.items():
        if split == first or not items:
            continue
        bad = next((d for d in items if not 0 <= d.label < len(labels)), None)
        if bad is not None:
            raise DatasetFileError(
                f"{listed_in}: {split} label {bad.label} of {bad.impath} is out of range (the {first} split has labels "
                f"0..{len(labels) - 1}); it would be scored as a wrong prediction. {fix}")


def read_split(filepath: str, path_prefix: str) -> tuple[list[Datum], list[Datum], list[Datum]]:
    """CoOp's ``split_zhou_*.json``: ``{"train": [[relpath, label, classname], ...], "val", "test"}``."""
    lists = read_lists_json(filepath, path_prefix, ("train", "val", "test"))
    return lists["train"], lists["val"], lists["test"]


def save_split(train, val, test, filepath: str, path_prefix: str) -> None:
    write_json_atomic({"train": relative_items(train, path_prefix), "val": relative_items(val, path_prefix),
                       "test": relative_items(test, path_prefix)}, filepath)
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
        if n_val < 1:
            raise DatasetFileError(f"class {items[0].classname!r} has {len(items)} train+val images: too few to "
                                   f"hold out a validation image ({p_val:.0%})")
        val.extend(items[:n_val])
        train.extend(items[n_val:])
    return train, val


def split_per_class(groups: Iterable[tuple[int, str, list[str]]], p_trn: float = 0.5, p_val: float = 0.2):
    """``(label, classname, image paths)`` per class, in order: shuffle each with the run's stream and
    cut round(n*p_trn) train, round(n*p_val) val, the rest test."""
    train, val, test = [], [], []
    for label, name, paths in groups:
        paths = list(paths)
        random.shuffle(paths)
        n_train, n_val = round(len(paths) * p_trn), round(len(paths) * p_val)
        if min(n_train, n_val, len(paths) - n_train - n_val) < 1:
            raise DatasetFileError(f"class {name!r} has {len(paths)} images: too few for a "
                                   f"{p_trn:.0%}/{p_val:.0%}/rest split")
        make = lambda ps: [make_datum(p, label, name, "the image folder") for p in ps]  # noqa: E731
        train.extend(make(paths[:n_train]))
        val.extend(make(paths[n_train:n_train + n_val]))
        test.extend(make(paths[n_train + n_val:]))
    return train, val, test


def list_dirs(path: str, ignored: Sequence[str] = ()) -> list[str]:
    """Sub-folders, sorted, without hidden and ignored ones."""
    return sorted(e.name for e in os.scandir(path)
                  if e.is_dir() and not e.name.startswith(".") and e.name not in ignored)


def list_files(path: str) -> list[str]:
    """Files, sorted (the reference keeps filesystem order; sorting is the documented deviation)."""
    return sorted(e.name for e in os.scandir(path) if not e.name.startswith(".") and not e.is_dir())


def read_and_split_data(image_dir: str, p_trn: float = 0.5, p_val: float = 0.2, ignored: Sequence[str] = (),
                        new_cnames: dict | None = None) -> tuple[list[Datum], list[Datum], list[Datum]]:
    """A 50/20/30 per-class split of ``image_dir/<class>/*``: labels follow the sorted class folders.

    Folders and files are listed *sorted* (the reference lists a folder's images in filesystem
    order, so its generated splits differ between machines; sorting is the documented deviation).
    """
    new_cnames = new_cnames or {}
    groups = []
    for label, folder in enumerate(list_dirs(image_dir, ignored)):
        paths = [os.path.join(image_dir, folder, f) for f in list_files(os.path.join(image_dir, folder))]
        groups.append((label, new_cnames.get(folder, folder), paths))
    return split_per_class(groups, p_trn, p_val)


def read_classnames(path: str) -> dict[str, str]:
    """ImageNet's ``classnames.txt``: ``<wnid> <class name>`` per line, in file order."""
    names: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.strip().split(" ", 1)
            if parts[0]:
                names[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return names


class CoOpDataset(DatasetBase):
    """Template of a CoOp-family reader; subclasses say where the files are and how to build a split.

    Class attributes (paths relative to the dataset folder):
    ``dataset_dir`` folder under the root; ``image_subdir`` the folder split paths are relative
    to ("" for the dataset folder); ``split_name`` the split file ("" when the dataset ships its
    own lists); ``required`` other paths every run needs; ``split_sources`` what building a missing
    split needs; ``sources`` path -> where it comes from (the fix a missing path gets, else
    ``download_hint``); ``published`` split -> (classes, images) in CoOp's dataset table.
    """

    dataset_dir = ""
    image_subdir = "images"
    split_name = ""
    required: tuple[str, ...] = ()
    split_sources: tuple[str, ...] = ()
    sources: dict[str, str] = {}
    download_hint = "See docs/datasets.md (the CoOp DATASETS.md layout) for this dataset."
    published: dict[str, tuple[int, int]] = {}
    generated_split_note = "it will differ from CoOp's published split; see docs/datasets.md"

    def __init__(self, cfg) -> None:
        root = resolve_root(cfg)
        if not os.path.isdir(root) and type(self).prepare is CoOpDataset.prepare:  # only generators make it
            require_path(root, "Data root (DATASET.ROOT / --root)",
                         f"Pass the folder that holds the dataset folders (here: {type(self).dataset_dir}/).")
        self.locate(root)
        self.prepare(self.dataset_dir)
        self.require(self.required_paths())
        lists = self.load_lists()
        train, val, test = lists["train"], lists.get("val"), lists["test"]
        num_shots = cfg.DATASET.NUM_SHOTS
        if num_shots >= 1:
            train, val = self.fewshot(train, val, num_shots, cfg.SEED)
        subsample = cfg.DATASET.SUBSAMPLE_CLASSES
        if val is None:  # the test split doubles as val (ImageNet)
            train, test = subsample_classes(train, test, subsample=subsample)
            val = test
        else:
            train, val, test = subsample_classes(train, val, test, subsample=subsample)
        check_images(train + (val if val is not test else []) + test, self.split_path or self.dataset_dir)
        super().__init__(train_x=train, val=val, test=test)

    # -- where things are -------------------------------------------------------------------
    @classmethod
    def at(cls, root: str) -> "CoOpDataset":
        """The reader located under ``root`` without loading anything (for the data checker)."""
        obj = cls.__new__(cls)
        obj.locate(os.path.abspath(os.path.expanduser(root)))
        return obj

    def locate(self, root: str) -> None:
        cls = type(self)
        self.root = root
        self.dataset_dir = os.path.join(root, cls.dataset_dir)
        self.image_dir = os.path.join(self.dataset_dir, cls.image_subdir) if cls.image_subdir else self.dataset_dir
        self.split_path = os.path.join(self.dataset_dir, cls.split_name) if cls.split_name else ""
        self.split_fewshot_dir = os.path.join(self.dataset_dir, "split_fewshot")

    def prepare(self, dataset_dir: str) -> None:
        """Hook for datasets that can create themselves (the synthetic one)."""

    def required_paths(self) -> tuple[str, ...]:
        return ((type(self).image_subdir,) if type(self).image_subdir else ()) + type(self).required

    def fix_for(self, relpath: str) -> str:
        return type(self).sources.get(relpath, type(self).download_hint)

    def first_missing(self, relpaths: Iterable[str]) -> str | None:
        """The dataset folder itself, or the first of ``relpaths`` that does not exist."""
        if not os.path.isdir(self.dataset_dir):
            return ""
        return next((p for p in relpaths if not os.path.exists(os.path.join(self.dataset_dir, p))), None)

    def require(self, relpaths: Iterable[str]) -> None:
        missing = self.first_missing(relpaths)
        if missing is None:
            return
        name = type(self).__name__
        if missing == "":
            raise DatasetNotFoundError(
                f"{name}: dataset folder not found: {self.dataset_dir}. Put the dataset under the data root as "
                f"{type(self).dataset_dir}/. {type(self).download_hint}")
        raise DatasetNotFoundError(f"{name}: {missing} not found in {self.dataset_dir}. {self.fix_for(missing)}")

    # -- the split lists ----------------------------------------------------------------------
    def read_lists(self) -> Lists | None:
        """The lists as stored, without drawing from the random stream or writing anything;
        None when the split file is missing and has to be built (see ``build_split``)."""
        if self.split_path and os.path.exists(self.split_path):
            print(f"Reading split from {self.split_path}")
            return read_lists_json(self.split_path, self.image_dir, ("train", "val", "test"), self.split_file_fix())
        return None

    def load_lists(self) -> Lists:
        lists = self.read_lists()
        if lists is not None:
            check_labels(lists, self.split_path or self.dataset_dir, self.split_file_fix())
            return lists
        source = self.first_missing(type(self).split_sources)
        if source:
            split_name = type(self).split_name
            raise DatasetNotFoundError(
                f"{type(self).__name__}: {split_name} not found in {self.dataset_dir}. {self.fix_for(split_name)} "
                f"Without it a split is built from {source}, which is missing too: {self.fix_for(source)}")
        print(f"{self.split_path} not found: building a split with the run's seed "
              f"({type(self).generated_split_note})")
        lists = self.built_lists()
        self.save_built_split(lists)
        return lists

    def built_lists(self) -> Lists:
        """A split built from the dataset's sources (drawing from the random stream), labels checked;
        nothing is written."""
        train, val, test = self.build_split()
        lists = {"train": train, "val": val, "test": test}
        sources = ", ".join(os.path.join(self.dataset_dir, p) for p in type(self).split_sources) or self.image_dir
        check_labels(lists, f"the split built from {sources}", self.fix_for(type(self).split_name))
        return lists

    def save_built_split(self, lists: Lists) -> None:
        try:
            save_split(lists["train"], lists["val"], lists["test"], self.split_path, self.image_dir)
        except OSError as e:  # a read-only dataset folder: later runs must not build another split
            raise DatasetFileError(
                f"Cannot write the split file {self.split_path} ({type(e).__name__}: {e.strerror or e}). The first "
                "run's split must be saved so that every later run uses it: make the folder writable once, or put "
                f"the split file there. {self.fix_for(type(self).split_name)}") from None

    def split_file_fix(self) -> str:
        """What to do about a bad split file (datasets that write themselves say: regenerate)."""
        return SPLIT_FILE_FIX

    def build_split(self) -> tuple[list[Datum], list[Datum], list[Datum]]:
        raise DatasetNotFoundError(f"Split file not found: {self.split_path}. {self.fix_for(type(self).split_name)}")

    # -- few-shot draws -----------------------------------------------------------------------
    def fewshot_cache_paths(self, num_shots: int, seed: int) -> tuple[str, str]:
        """(our JSON cache, Dassl's pickle cache) for a (K, seed)."""
        stem = os.path.join(self.split_fewshot_dir, f"shot_{num_shots}-seed_{seed}")
        return stem + ".json", stem + ".pkl"

    def fewshot(self, train, val, num_shots: int, seed: int):
        """Draw K shots per class from train and min(K, 4) from val (val None: not drawn, as ImageNet
        does). The draw always happens, so the random stream is the same with or without a cache;
        a cached draw for (K, seed) wins, so every method sees the same shots."""
        drawn_train = self.generate_fewshot_dataset(train, num_shots=num_shots)
        drawn_val = None if val is None else self.generate_fewshot_dataset(val, num_shots=min(num_shots, 4))
        if seed < 0:  # a random seed: nothing to share with other runs
            return drawn_train, drawn_val
        keys = ("train",) if val is None else ("train", "val")
        json_path, pkl_path = self.fewshot_cache_paths(num_shots, seed)
        if os.path.exists(json_path):
            print(f"Loading preprocessed few-shot data from {json_path}")
            cached = read_lists_json(json_path, self.image_dir, keys)
        elif os.path.exists(pkl_path):
            from .legacy_cache import read_dassl_lists

            print(f"Loading preprocessed few-shot data from {pkl_path} (Dassl pickle, read without executing it)")
            cached = read_dassl_lists(pkl_path, self.image_dir, keys, check_files=True)
        else:
            print(f"Saving preprocessed few-shot data to {json_path}")
            write_cache({k: relative_items(v, self.image_dir)
                         for k, v in (("train", drawn_train), ("val", drawn_val)) if v is not None}, json_path,
                        "the draw is made from the seed either way")
            return drawn_train, drawn_val
        return cached["train"], cached.get("val")


class GeneratedDataset(CoOpDataset):
    """A dataset that writes itself under the data root on first use (``prepare``): whatever is wrong
    with its folder, deleting the folder and running again regenerates it."""

    download_hint = "This dataset writes itself: delete its folder and run again to regenerate it."

    def split_file_fix(self) -> str:
        return f"This dataset writes itself: delete its folder {self.dataset_dir} and run again to regenerate it."

    def build_split(self):
        raise DatasetNotFoundError(f"Split file not found: {self.split_path}. {self.split_file_fix()}")


class TestOnlyDataset(CoOpDataset):
    """An evaluation-only set (the ImageNet variants): shots, seed and base/new do not apply."""

    required = ("classnames.txt",)
    sources = {"classnames.txt": "Copy classnames.txt from the imagenet/ folder (CoOp's ImageNet class names)."}

    def __init__(self, cfg) -> None:
        self.locate(resolve_root(cfg))
        self.require(self.required_paths())
        if cfg.DATASET.SUBSAMPLE_CLASSES != "all":
            print(f"{type(self).__name__} is a test-only set: DATASET.SUBSAMPLE_CLASSES is ignored (all classes)")
        data = self.read_lists()["test"]
        DatasetBase.__init__(self, train_x=data, test=data)

    def classnames_by_wnid(self) -> dict[str, str]:
        return read_classnames(os.path.join(self.dataset_dir, "classnames.txt"))

    def read_class_folders(self, folders: Sequence[tuple[str, str]]) -> list[Datum]:
        """``(folder under image_dir, class name)`` per label 0, 1, ...: every file in it."""
        items = []
        for label, (folder, name) in enumerate(folders):
            path = os.path.join(self.image_dir, folder)
            if not os.path.isdir(path):
                raise DatasetNotFoundError(f"{type(self).__name__}: class folder {path} not found. "
                                           f"{type(self).download_hint}")
            items.extend(Datum(impath=os.path.join(path, f), label=label, classname=name) for f in list_files(path))
        return items

    def read_wnid_folders(self, ignored: Sequence[str] = ()) -> list[Datum]:
        """``image_dir/<wnid>/*``: labels follow the sorted folders (a 200-class subset is renumbered
        from 0), names come from classnames.txt."""
        names = self.classnames_by_wnid()
        folders = list_dirs(self.image_dir, ignored)
        unknown = [f for f in folders if f not in names]
        if unknown:
            raise DatasetFileError(f"{type(self).__name__}: classnames.txt has no line for folder(s) {unknown[:5]} of "
                                   f"{self.image_dir}. Use CoOp's ImageNet classnames.txt (1000 lines).")
        return self.read_class_folders([(f, names[f]) for f in folders])


def write_rendered_dataset(dataset_dir: str, classnames: Sequence[str], counts: dict[str, int],
                           draw: Callable[[int], Image.Image], split_name: str,
                           extra_files: dict[str, str] | None = None) -> None:
    """Write a dataset that renders itself, in the CoOp layout, atomically.

    ``images/<class>/<i>.png`` with ``counts[split]`` images per class and split (train, val, test,
    drawn in that order by ``draw(label)``), the split file ``split_name``, and ``extra_files``
    (name -> text). Everything goes to a temporary folder renamed into place, so a crash never
    leaves a half-written dataset where a reader looks.
    """
    parent = os.path.dirname(os.path.abspath(dataset_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(dataset_dir)}-", dir=parent)
    try:
        image_dir = os.path.join(tmp, "images")
        splits: dict[str, list[Datum]] = {k: [] for k in counts}
        for label, name in enumerate(classnames):
            folder = os.path.join(image_dir, name.replace(" ", "_"))
            os.makedirs(folder)
            i = 0
            for split, n in counts.items():
                for _ in range(n):
                    path = os.path.join(folder, f"{i:03d}.png")
                    draw(label).save(path)
                    splits[split].append(Datum(impath=path, label=label, classname=name))
                    i += 1
        save_split(splits["train"], splits["val"], splits["test"], os.path.join(tmp, split_name), image_dir)
        for name, text in (extra_files or {}).items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        try:
            os.replace(tmp, dataset_dir)
        except OSError:
            # Another process (two first runs at once) renamed its complete copy into place first: use
            # that one. The caller checks it as it checks any existing folder.
            if not os.path.isdir(dataset_dir):
                raise
            print(f"{dataset_dir} was written by another process meanwhile; using that copy")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename; only a copy that lost the race remains
