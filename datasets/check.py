"""Check a data root before a sweep: ``python -m metaprompt.datasets.check --root DIR [names...]``.

For each dataset (config names such as ``oxford_pets`` or registry names such as ``OxfordPets``;
all 15 CoOp-family datasets by default): found or missing, the first missing file or folder,
class and image counts per split (from the split file) against CoOp's published ones, images the
split lists that are not on disk, unreadable or refused few-shot caches, and the fix. It reads
only; it never builds splits or draws shots. Exit status 0 when every named dataset is usable.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import io
import os
import random
import sys
from dataclasses import dataclass, field

from metaprompt.runtime import DATASET_REGISTRY

from . import base
from .base import CoOpDataset, DatasetFileError, DatasetNotFoundError, TestOnlyDataset
from .folder import Folder

# CoOp's config file names -> registry names, in the order of CoOp's tables.
DATASETS = {
    "imagenet": "ImageNet", "caltech101": "Caltech101", "oxford_pets": "OxfordPets",
    "stanford_cars": "StanfordCars", "oxford_flowers": "OxfordFlowers", "food101": "Food101",
    "fgvc_aircraft": "FGVCAircraft", "sun397": "SUN397", "dtd": "DescribableTextures", "eurosat": "EuroSAT",
    "ucf101": "UCF101", "imagenetv2": "ImageNetV2", "imagenet_sketch": "ImageNetSketch",
    "imagenet_a": "ImageNetA", "imagenet_r": "ImageNetR",
}
OK, NOTE, INCOMPLETE, MISSING = "ok", "note", "INCOMPLETE", "MISSING"
SEVERITY = [OK, NOTE, INCOMPLETE, MISSING]


@dataclass
class Report:
    name: str
    folder: str
    status: str = OK
    lines: list[str] = field(default_factory=list)
    fix: str = ""

    @property
    def usable(self) -> bool:
        return self.status in (OK, NOTE)

    def problem(self, status: str, line: str, fix: str = "") -> "Report":
        self.status = max(self.status, status, key=SEVERITY.index)
        self.lines.append(line)
        self.fix = self.fix or fix
        return self


def locate(name: str, root: str) -> tuple[type[CoOpDataset], CoOpDataset | None]:
    """A benchmark dataset by name, else a folder of your own data under ``root`` (the scripts' rule)."""
    try:
        return resolve(name), None
    except KeyError:
        if os.path.isdir(os.path.join(root, name)):
            return Folder, Folder.located(root, name)
        raise KeyError(f"unknown dataset {name!r}: not one of {', '.join(DATASETS)}, and {root} has no folder "
                       f"{name}/ of your own data") from None


def resolve(name: str) -> type[CoOpDataset]:
    key = DATASETS.get(name.lower(), name)
    by_lower = {n.lower(): n for n in DATASET_REGISTRY.registered_names()}
    key = by_lower.get(key.lower(), key)
    if key not in DATASET_REGISTRY or not issubclass(DATASET_REGISTRY.get(key), CoOpDataset):
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASET_REGISTRY.get(key)


def _count(items) -> tuple[int, int]:
    return len({d.label for d in items}), len(items)


def check_dataset(cls: type[CoOpDataset], root: str, check_images: bool = True,
                  ds: CoOpDataset | None = None) -> Report:
    """``ds``: an already located reader (a folder of your own data); else ``cls`` under ``root``."""
    ds = ds or cls.at(root)
    rep = Report(cls.__name__, f"{cls.dataset_dir or os.path.relpath(ds.dataset_dir, root)}/")
    missing = ds.first_missing(ds.required_paths())
    if missing == "":
        return rep.problem(MISSING, f"folder {ds.dataset_dir} not found", cls.download_hint)
    if missing:
        return rep.problem(INCOMPLETE, f"first missing: {os.path.join(ds.dataset_dir, missing)}", ds.fix_for(missing))
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the readers narrate; the report says it all
            lists = ds.read_lists()
            if lists is not None:
                base.check_labels(lists, ds.split_path or ds.dataset_dir, ds.split_file_fix())
    except DatasetFileError as e:  # a malformed, unsafe or inconsistent file
        return rep.problem(INCOMPLETE, str(e), "Replace the file named above with the original.")
    except DatasetNotFoundError as e:  # e.g. a class folder that a list names
        return rep.problem(INCOMPLETE, str(e), cls.download_hint)
    if lists is None:
        fix = ds.fix_for(cls.split_name)
        source = ds.first_missing(cls.split_sources)
        if source:
            needed = os.path.join(ds.dataset_dir, source)
            return rep.problem(INCOMPLETE, f"first missing: {ds.split_path} (and {needed}, needed to build a split "
                                           "without it)", fix)
        state = random.getstate()
        try:  # read the sources as the first run will (nothing is written; the random state is restored)
            with contextlib.redirect_stdout(io.StringIO()):
                built = ds.built_lists()
        except DatasetNotFoundError as e:  # DatasetFileError included
            return rep.problem(INCOMPLETE, f"cannot build a split: {e}", cls.download_hint)
        finally:
            random.setstate(state)
        if isinstance(ds, Folder):  # built_lists scanned (and opened) every image of the folder
            rep.lines.append(f"{len(ds.names):,} classes, {sum(len(v) for v in built.values()):,} images (all readable)")
        rep.problem(NOTE, f"{cls.split_name} not found: the first run builds a split with its seed; "
                          f"{cls.generated_split_note}", fix if cls.published else "")
        _check_lists(rep, cls, built, check_images)
    else:
        _check_lists(rep, cls, lists, check_images)
    if not issubclass(cls, TestOnlyDataset):
        _check_fewshot_caches(rep, ds, val=lists is None or "val" in lists)
    return rep


def _check_lists(rep: Report, cls: type[CoOpDataset], lists: dict, check_images: bool) -> None:
    differs = False
    for split, items in lists.items():
        classes, images = _count(items)
        line = f"{split}: {classes:,} classes, {images:,} images"
        published = cls.published.get(split)
        if published and published != (classes, images):
            differs = True
            line += f" (CoOp's: {published[0]:,} classes, {published[1]:,} images)"
        elif published:
            line += " (as CoOp's)"
        rep.lines.append(line)
    if differs:
        rep.problem(NOTE, "counts differ from CoOp's: a different split file or an incomplete copy")
    if check_images:
        absent = [d.impath for items in lists.values() for d in items if not os.path.isfile(d.impath)]
        if absent:
            total = sum(len(v) for v in lists.values())
            rep.problem(INCOMPLETE, f"first missing: {absent[0]} ({len(absent):,} of {total:,} listed images missing)",
                        cls.download_hint)


def _check_fewshot_caches(rep: Report, ds: CoOpDataset, val: bool) -> None:
    from .legacy_cache import read_dassl_lists

    keys = ("train", "val") if val else ("train",)
    paths = sorted(glob.glob(os.path.join(ds.split_fewshot_dir, "shot_*-seed_*.json")))
    pickles = sorted(glob.glob(os.path.join(ds.split_fewshot_dir, "shot_*-seed_*.pkl")))
    for path in paths + pickles:
        try:
            if path.endswith(".json"):
                base.read_lists_json(path, ds.image_dir, keys)
            elif not os.path.exists(path[:-4] + ".json"):  # a JSON beside it wins; the pickle is not read
                read_dassl_lists(path, ds.image_dir, keys, check_files=True)
        except DatasetNotFoundError as e:
            rep.problem(INCOMPLETE, f"few-shot cache: {e}", "Delete or replace the cache named above.")
    if paths or pickles:
        rep.lines.append(f"few-shot caches: {len(paths)} JSON, {len(pickles)} Dassl pickle(s)")


def format_report(rep: Report) -> str:
    head = f"[{rep.status}]".ljust(13) + f"{rep.name} ({rep.folder})"
    body = [" " * 13 + line for line in rep.lines]
    if rep.fix and not rep.usable:
        body.append(" " * 13 + f"fix: {rep.fix}")
    elif rep.fix:
        body.append(" " * 13 + f"to match the papers: {rep.fix}")
    return "\n".join([head, *body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metaprompt.datasets.check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the data root that holds the dataset folders (DATA)")
    parser.add_argument("names", nargs="*", help=f"datasets to check (default: all): {' '.join(DATASETS)}, or "
                        "the name of a folder of your own data under --root")
    parser.add_argument("--no-images", action="store_true", help="skip checking that every listed image exists")
    args = parser.parse_args(argv)
    root = os.path.abspath(os.path.expanduser(args.root))
    if not os.path.isdir(root):
        print(f"error: data root {root} is not a folder; pass the folder that holds the dataset folders.",
              file=sys.stderr)
        return 2
    try:
        readers = [locate(n, root) for n in (args.names or list(DATASETS))]
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    print(f"Data root: {root}")
    reports = [check_dataset(cls, root, check_images=not args.no_images, ds=ds) for cls, ds in readers]
    for rep in reports:
        print(format_report(rep))
    usable = sum(r.usable for r in reports)
    print(f"{usable} of {len(reports)} dataset(s) usable.")
    return 0 if usable == len(reports) else 1


if __name__ == "__main__":
    sys.exit(main())
