"""Each dataset reader on a fabricated copy of its layout follows the protocol's rules.

Expectations are computed here from the layout's hand-written facts (``dataset_layouts``) and the
protocol text: 50/20/30 or 80/20 cuts with Python's ``round`` on the seeded stream, few-shot draws
continuing that stream (train K, val min(K, 4)), base = first ceil(n/2) sorted labels.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil

import pytest
from dataset_layouts import LAYOUTS, TEST_ONLY, Truth

import metaprompt.datasets  # noqa: F401  (registers the datasets)
from metaprompt.config import extend_cfg
from metaprompt.datasets.base import DatasetNotFoundError
from metaprompt.runtime import DATASET_REGISTRY, get_cfg_default

TRAINABLE = [n for n in LAYOUTS if n not in TEST_ONLY]


def build(name: str, root, shots: int = -1, seed: int = 1, subsample: str = "all"):
    cfg = get_cfg_default()
    extend_cfg(cfg)
    cfg.DATASET.ROOT, cfg.DATASET.NAME = str(root), name
    cfg.DATASET.NUM_SHOTS, cfg.SEED, cfg.DATASET.SUBSAMPLE_CLASSES = shots, seed, subsample
    random.seed(seed)  # what the launcher's set_random_seed does before the dataset is built
    return DATASET_REGISTRY.get(name)(cfg)


def triples(items) -> list[tuple]:
    return [(d.impath, d.label, d.classname) for d in items]


def groups(items) -> list[list[tuple]]:
    """Items grouped by label, groups in the order labels first appear."""
    out: dict[int, list[tuple]] = {}
    for item in items:
        out.setdefault(item[1], []).append(item)
    return list(out.values())


def cut_per_class(per_class, rng) -> tuple[list, list, list]:
    train, val, test = [], [], []
    for label, name, paths in per_class:
        paths = list(paths)
        rng.shuffle(paths)
        n_train, n_val = round(len(paths) * 0.5), round(len(paths) * 0.2)
        train += [(p, label, name) for p in paths[:n_train]]
        val += [(p, label, name) for p in paths[n_train:n_train + n_val]]
        test += [(p, label, name) for p in paths[n_train + n_val:]]
    return train, val, test


def cut_trainval(trainval, rng) -> tuple[list, list]:
    train, val = [], []
    for group in groups(trainval):
        rng.shuffle(group)
        n_val = round(len(group) * 0.2)
        val += group[:n_val]
        train += group[n_val:]
    return train, val


def expected_split(truth: Truth, rng):
    """(train, val or None, test) and whether building it drew from the stream."""
    if truth.per_class:
        return cut_per_class(truth.per_class, rng)
    if truth.trainval:
        return (*cut_trainval(truth.trainval, rng), truth.test)
    return truth.fixed["train"], truth.fixed.get("val"), truth.fixed["test"]


def draw(items, k: int, rng) -> list:
    out = []
    for group in groups(items):
        out += rng.sample(group, k) if len(group) >= k else group
    return out


def select(lists, which: str) -> list[list]:
    labels = sorted({y for _, y, _ in lists[0]})
    m = math.ceil(len(labels) / 2)
    keep = {y: i for i, y in enumerate(labels[:m] if which == "base" else labels[m:])}
    return [[(p, keep[y], c) for p, y, c in items if y in keep] for items in lists]


def relative(items, prefix: str) -> list[list]:
    return [[os.path.relpath(p, prefix), y, c] for p, y, c in items]


@pytest.mark.parametrize("name", TRAINABLE)
def test_reader_gives_protocol_split_shots_and_base_new(tmp_path, name):
    truth = LAYOUTS[name](str(tmp_path))
    seed, k = 3, 3
    rng = random.Random(seed)
    train, val, test = expected_split(truth, rng)
    shots_train = draw(train, k, rng)
    shots_val = draw(val, min(k, 4), rng) if val is not None else None

    ds = build(name, tmp_path, shots=k, seed=seed, subsample="base")
    exp_train, exp_test = select([shots_train, test], "base")
    exp_val = select([shots_train, shots_val], "base")[1] if val is not None else exp_test
    assert triples(ds.train_x) == exp_train
    assert triples(ds.val) == exp_val
    assert triples(ds.test) == exp_test
    m = math.ceil(len(truth.classnames) / 2)
    assert ds.classnames == truth.classnames[:m]
    assert random.getstate() == rng.getstate()  # split cut (if any), then train, then val draws

    cls = DATASET_REGISTRY.get(name)
    if truth.split_name:  # the generated split was saved, with paths relative to the image folder
        with open(os.path.join(tmp_path, truth.dataset_dir, truth.split_name)) as f:
            saved = json.load(f)
        image_dir = os.path.join(tmp_path, truth.dataset_dir, cls.image_subdir)
        assert saved == {"train": relative(train, image_dir), "val": relative(val, image_dir),
                         "test": relative(test, image_dir)}

    # New classes, same seed: the split file and the cached draw are reused, so base and new are
    # slices of one draw; the stream is still consumed by a (discarded) draw.
    rng = random.Random(seed)
    draw(train, k, rng)
    if val is not None:
        draw(val, min(k, 4), rng)
    ds_new = build(name, tmp_path, shots=k, seed=seed, subsample="new")
    new_train, new_test = select([shots_train, test], "new")
    assert triples(ds_new.train_x) == new_train
    assert triples(ds_new.test) == new_test
    assert ds_new.classnames == truth.classnames[m:]
    assert random.getstate() == rng.getstate()

    ds_all = build(name, tmp_path)  # all classes, no shots: the full split
    assert (triples(ds_all.train_x), triples(ds_all.test)) == (train, test)
    assert triples(ds_all.val) == (val if val is not None else test)
    assert ds_all.classnames == truth.classnames


def test_generated_cut_uses_pythons_round_and_sorted_listing(tmp_path):
    """Caltech's "face" folder has 5 images: round(2.5) == 2 train, 1 val, 2 test (half-up would give 3)."""
    truth = LAYOUTS["Caltech101"](str(tmp_path))
    build("Caltech101", tmp_path, seed=7)
    with open(os.path.join(tmp_path, "caltech-101", "split_zhou_Caltech101.json")) as f:
        split = json.load(f)
    counts = {s: sum(1 for _, _, c in split[s] if c == "face") for s in ("train", "val", "test")}
    assert counts == {"train": 2, "val": 1, "test": 2}
    assert {c for s in split.values() for _, _, c in s} == set(truth.classnames)
    # the same seed on a second copy written in another order gives the same split (sorted listing)
    other = tmp_path / "copy"
    LAYOUTS["Caltech101"](str(other))
    build("Caltech101", other, seed=7)
    with open(os.path.join(other, "caltech-101", "split_zhou_Caltech101.json")) as f:
        assert json.load(f) == split


def test_imagenet_caches_its_lists_as_json_and_draws_no_val(tmp_path, monkeypatch):
    truth = LAYOUTS["ImageNet"](str(tmp_path))
    ds = build("ImageNet", tmp_path, shots=2, seed=4)
    cache = os.path.join(tmp_path, "imagenet", "preprocessed.json")
    with open(cache) as f:
        saved = json.load(f)
    image_dir = os.path.join(tmp_path, "imagenet", "images")
    assert saved == {"train": relative(truth.fixed["train"], image_dir),
                     "test": relative(truth.fixed["test"], image_dir)}
    assert ds.val is ds.test and len(ds.test) == len(truth.fixed["test"])
    with open(os.path.join(tmp_path, "imagenet", "split_fewshot", "shot_2-seed_4.json")) as f:
        assert set(json.load(f)) == {"train"}

    from metaprompt.datasets.imagenet import ImageNet

    def no_listing(self):
        raise AssertionError("the cached lists should be used")

    monkeypatch.setattr(ImageNet, "list_folders", no_listing)
    again = build("ImageNet", tmp_path, shots=2, seed=4)
    assert triples(again.train_x) == triples(ds.train_x)


@pytest.mark.parametrize("name", TEST_ONLY)
def test_test_only_variants_ignore_shots_seed_and_base_new(tmp_path, name):
    truth = LAYOUTS[name](str(tmp_path))
    random.seed(11)
    state = random.getstate()
    ds = build(name, tmp_path, shots=16, seed=11, subsample="base")
    assert triples(ds.test) == truth.fixed["test"]
    assert triples(ds.train_x) == truth.fixed["test"]
    assert ds.val is None
    assert ds.classnames == truth.classnames
    assert ds.num_classes == len(truth.classnames)
    assert random.getstate() == state
    assert not os.path.exists(os.path.join(tmp_path, truth.dataset_dir, "split_fewshot"))


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_missing_dataset_folder_raises_with_fix(tmp_path, name):
    cls = DATASET_REGISTRY.get(name)
    with pytest.raises(DatasetNotFoundError) as err:
        build(name, tmp_path)
    msg = str(err.value)
    assert os.path.join(str(tmp_path), cls.dataset_dir) in msg and cls.download_hint in msg


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_missing_required_file_raises_with_its_fix(tmp_path, name):
    truth = LAYOUTS[name](str(tmp_path))
    path = os.path.join(tmp_path, truth.dataset_dir, truth.removable)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    cls = DATASET_REGISTRY.get(name)
    with pytest.raises(DatasetNotFoundError) as err:
        build(name, tmp_path)
    assert truth.removable in str(err.value)
    assert cls.at(str(tmp_path)).fix_for(truth.removable) in str(err.value)


def test_missing_split_sources_are_named(tmp_path):
    LAYOUTS["OxfordPets"](str(tmp_path))
    os.remove(os.path.join(tmp_path, "oxford_pets", "annotations", "trainval.txt"))
    pattern = r"split_zhou_OxfordPets.json not found.*DATASETS.md.*annotations/trainval.txt.*annotations.tar.gz"
    with pytest.raises(DatasetNotFoundError, match=pattern):
        build("OxfordPets", tmp_path)


def test_existing_split_file_is_read_as_written(tmp_path):
    """A published split file is used verbatim: its order drives the draw, its names are the class names."""
    LAYOUTS["DescribableTextures"](str(tmp_path))
    image_dir = os.path.join(tmp_path, "dtd", "images")
    split = {"train": [["cracked/cracked_1.jpg", 1, "cracked"], ["banded/banded_2.jpg", 0, "banded"],
                       ["cracked/cracked_2.jpg", 1, "cracked"], ["banded/banded_1.jpg", 0, "banded"],
                       ["cracked/cracked_3.jpg", 1, "cracked"]],
             "val": [["banded/banded_3.jpg", 0, "banded"], ["cracked/cracked_4.jpg", 1, "cracked"]],
             "test": [["banded/banded_4.jpg", 0, "banded"], ["cracked/cracked_5.jpg", 1, "cracked"]]}
    with open(os.path.join(tmp_path, "dtd", "split_zhou_DescribableTextures.json"), "w") as f:
        json.dump(split, f)
    ds = build("DescribableTextures", tmp_path, shots=2, seed=5)
    rng = random.Random(5)
    full = {k: [(os.path.join(image_dir, p), y, c) for p, y, c in v] for k, v in split.items()}
    assert triples(ds.train_x) == draw(full["train"], 2, rng)
    assert triples(ds.val) == draw(full["val"], 2, rng)
    assert ds.classnames == ["banded", "cracked"]
