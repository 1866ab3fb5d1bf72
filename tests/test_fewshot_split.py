"""Few-shot draws, base/new selection and split generation follow the protocol's rules.

Each test fabricates a tiny OxfordPets folder (``images/`` + ``annotations/`` and/or
``split_zhou_OxfordPets.json``) and computes the expected lists by hand from the documented
rules (Python's ``random`` seeded with the run seed, groups in order of first appearance,
``random.sample(group, K)`` or the whole group, val after train with ``min(K, 4)``, base = first
half of the sorted labels, relabelled), never by calling the reader under test.
"""
import json
import math
import os
import random
import shutil

import pytest
from PIL import Image

import metaprompt  # noqa: F401  (registers datasets and trainer config nodes)
from metaprompt.config import build_cfg
from metaprompt.datasets import DatasetNotFoundError
from metaprompt.datasets.oxford_pets import OxfordPets
from metaprompt.runtime import set_random_seed

PETS_YAML = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "datasets",
                         "oxford_pets.yaml")
BREEDS = ["Abyssinian", "american_bulldog", "Bengal", "boxer", "british_shorthair"]


def classname(label):
    return BREEDS[label].lower()


def write_image(path, shade):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (8, 8), (shade % 256, 40, 90)).save(path)


def interleave(counts, order, start=1):
    """Items ``(relpath, label, classname)``: labels first appear in ``order``, then round-robin."""
    queues = {lab: [f"{BREEDS[lab]}_{start + i}.jpg" for i in range(counts[lab])] for lab in order}
    out = []
    while any(queues.values()):
        for lab in order:
            if queues[lab]:
                out.append((queues[lab].pop(0), lab, classname(lab)))
    return out


def make_split_folder(root, train, val, test):
    folder = os.path.join(root, "oxford_pets")
    for i, (rel, _, _) in enumerate(train + val + test):
        write_image(os.path.join(folder, "images", rel), i)
    with open(os.path.join(folder, "split_zhou_OxfordPets.json"), "w") as f:
        json.dump({"train": [list(x) for x in train], "val": [list(x) for x in val],
                   "test": [list(x) for x in test]}, f)
    return folder


def cfg_for(root, seed, shots, subsample="all"):
    return build_cfg(PETS_YAML, opts=["DATASET.ROOT", str(root), "SEED", str(seed),
                                      "DATASET.NUM_SHOTS", str(shots), "DATASET.SUBSAMPLE_CLASSES", subsample])


def build(root, seed, shots, subsample="all"):
    """As train.py does: seed every generator, then construct the dataset."""
    set_random_seed(seed)
    return OxfordPets(cfg_for(root, seed, shots, subsample))


def as_tuples(items, image_dir):
    return [(os.path.relpath(d.impath, image_dir), d.label, d.classname) for d in items]


def expected_draw(items, k):
    groups = {}
    for item in items:  # dicts keep insertion order: labels in order of first appearance
        groups.setdefault(item[1], []).append(item)
    out = []
    for group in groups.values():
        out += random.sample(group, k) if len(group) >= k else list(group)
    return out


def expected_subsample(items, all_labels, which):
    labels = sorted(all_labels)
    m = math.ceil(len(labels) / 2)
    keep = labels[:m] if which == "base" else labels[m:]
    relabel = {y: i for i, y in enumerate(keep)}
    return [(p, relabel[y], c) for p, y, c in items if y in relabel]


# Train: labels first appear as 3, 0, 4, 1, 2; class 1 has fewer than K=5 items, class 3 exactly 5.
TRAIN = interleave({0: 7, 1: 3, 2: 9, 3: 5, 4: 6}, order=[3, 0, 4, 1, 2])
VAL = interleave({0: 3, 1: 5, 2: 2, 3: 4, 4: 6}, order=[1, 4, 0, 3, 2], start=100)
TEST = interleave({0: 2, 1: 2, 2: 2, 3: 2, 4: 2}, order=[0, 1, 2, 3, 4], start=200)


@pytest.fixture
def pets(tmp_path):
    root = tmp_path / "data"
    folder = make_split_folder(str(root), TRAIN, VAL, TEST)
    return root, folder


@pytest.mark.parametrize("seed,shots", [(1, 5), (2, 5), (3, 2)])
def test_fewshot_draw_matches_the_protocol(pets, seed, shots):
    root, folder = pets
    random.seed(seed)
    exp_train = expected_draw(TRAIN, shots)
    exp_val = expected_draw(VAL, min(shots, 4))

    ds = build(root, seed, shots)
    image_dir = os.path.join(folder, "images")
    assert as_tuples(ds.train_x, image_dir) == exp_train
    assert as_tuples(ds.val, image_dir) == exp_val
    assert as_tuples(ds.test, image_dir) == TEST  # the test split is never sampled
    # class 1 has 3 train items: all kept when K > 3
    assert sum(1 for _, y, _ in exp_train if y == 1) == min(3, shots)


def test_four_and_sixteen_shots_get_different_val_sets(pets):
    # val is drawn after train from the same stream, so K changes the val draw too
    root, folder = pets
    image_dir = os.path.join(folder, "images")
    val_4 = as_tuples(build(root, 1, 4).val, image_dir)
    val_5 = as_tuples(build(root, 1, 5).val, image_dir)
    assert val_4 != val_5


@pytest.mark.parametrize("which", ["base", "new"])
def test_base_new_are_slices_of_the_all_class_draw_relabelled(pets, which):
    root, folder = pets
    seed, shots = 1, 5
    random.seed(seed)
    exp_train = expected_draw(TRAIN, shots)
    exp_val = expected_draw(VAL, min(shots, 4))
    labels = {y for _, y, _ in TRAIN}

    ds = build(root, seed, shots, which)
    image_dir = os.path.join(folder, "images")
    assert as_tuples(ds.train_x, image_dir) == expected_subsample(exp_train, labels, which)
    assert as_tuples(ds.val, image_dir) == expected_subsample(exp_val, labels, which)
    assert as_tuples(ds.test, image_dir) == expected_subsample(TEST, labels, which)
    # base = sorted labels [0, 1, 2] (ceil(5/2) = 3), new = [3, 4] -> relabelled 0, 1
    names = [classname(y) for y in ([0, 1, 2] if which == "base" else [3, 4])]
    assert ds.classnames == names
    assert ds.num_classes == len(names)
    assert ds.lab2cname == dict(enumerate(names))


def test_fewshot_cache_is_relative_reused_and_leaves_the_random_stream_unchanged(pets, tmp_path):
    root, folder = pets
    image_dir = os.path.join(folder, "images")
    cache = os.path.join(folder, "split_fewshot", "shot_5-seed_1.json")
    assert not os.path.exists(cache)

    first = build(root, 1, 5)
    after_first = random.random()
    assert os.path.isfile(cache)
    with open(cache) as f:
        content = json.load(f)
    paths = [p for split in ("train", "val") for p, _, _ in content[split]]
    assert paths and not any(os.path.isabs(p) or str(tmp_path) in p for p in paths)
    assert [tuple(x) for x in content["train"]] == as_tuples(first.train_x, image_dir)

    second = build(root, 1, 5)  # from the cache
    assert random.random() == after_first  # same stream with or without a cache
    assert as_tuples(second.train_x, image_dir) == as_tuples(first.train_x, image_dir)
    assert as_tuples(second.val, image_dir) == as_tuples(first.val, image_dir)

    # The cache wins over a fresh draw: edit it and the reader returns the edited shots.
    content["train"] = content["train"][:3]
    with open(cache, "w") as f:
        json.dump(content, f)
    assert as_tuples(build(root, 1, 5).train_x, image_dir) == [tuple(x) for x in content["train"]]

    # A moved dataset folder still works: paths are resolved against the new location.
    moved_root = tmp_path / "moved"
    shutil.move(str(root), str(moved_root))
    moved = build(moved_root, 1, 5)
    moved_images = os.path.join(str(moved_root), "oxford_pets", "images")
    assert all(d.impath.startswith(moved_images) and os.path.isfile(d.impath) for d in moved.train_x + moved.val)
    assert as_tuples(moved.train_x, moved_images) == [tuple(x) for x in content["train"]]


def write_annotations(folder, trainval, test):
    """``annotations/{trainval,test}.txt`` lines: ``<image> <class id 1..37> <species> <breed id>``."""
    os.makedirs(os.path.join(folder, "annotations"), exist_ok=True)
    for name, items in (("trainval.txt", trainval), ("test.txt", test)):
        with open(os.path.join(folder, "annotations", name), "w") as f:
            for rel, label, _ in items:
                f.write(f"{rel[:-4]} {label + 1} 1 {label + 1}\n")
        for i, (rel, _, _) in enumerate(items):
            write_image(os.path.join(folder, "images", rel), i)


def test_missing_split_is_generated_from_annotations_with_the_seeded_stream(tmp_path):
    root = tmp_path / "data"
    folder = os.path.join(str(root), "oxford_pets")
    trainval = interleave({0: 10, 1: 7, 2: 13, 3: 6}, order=[2, 0, 3, 1])
    test = interleave({0: 3, 1: 3, 2: 3, 3: 3}, order=[0, 1, 2, 3], start=500)
    write_annotations(folder, trainval, test)
    seed, shots = 2, 4

    # By hand: per label in order of first appearance, shuffle, first round(n * 0.2) -> val;
    # then the few-shot draw continues the same stream.
    random.seed(seed)
    groups = {}
    for item in trainval:
        groups.setdefault(item[1], []).append(item)
    exp_train, exp_val = [], []
    for items in groups.values():
        idx = list(range(len(items)))
        random.shuffle(idx)
        n_val = round(len(items) * 0.2)
        exp_val += [items[i] for i in idx[:n_val]]
        exp_train += [items[i] for i in idx[n_val:]]
    assert [round(n * 0.2) for n in (13, 10, 6, 7)] == [3, 2, 1, 1]
    shots_train = expected_draw(exp_train, shots)
    shots_val = expected_draw(exp_val, min(shots, 4))

    ds = build(root, seed, shots)
    image_dir = os.path.join(folder, "images")
    with open(os.path.join(folder, "split_zhou_OxfordPets.json")) as f:
        saved = json.load(f)
    assert [tuple(x) for x in saved["train"]] == exp_train
    assert [tuple(x) for x in saved["val"]] == exp_val
    assert [tuple(x) for x in saved["test"]] == test
    assert as_tuples(ds.train_x, image_dir) == shots_train
    assert as_tuples(ds.val, image_dir) == shots_val

    # The saved split is reused by later runs (other seeds read it, nothing is regenerated).
    random.seed(3)
    later = expected_draw(exp_train, shots)
    shutil.rmtree(os.path.join(folder, "split_fewshot"))
    assert as_tuples(build(root, 3, shots).train_x, image_dir) == later


def test_missing_annotations_and_split_is_a_clear_error(tmp_path):
    os.makedirs(tmp_path / "data" / "oxford_pets" / "images")
    with pytest.raises(DatasetNotFoundError, match="trainval.txt"):
        build(tmp_path / "data", 1, 4)
