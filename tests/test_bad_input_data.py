"""Bad input on the data side: one clear message naming the file and what to do, or a clean recovery.

Read the tables top to bottom: each row is a case, the input that makes it, and the fragments the
message must contain. ``BROKEN_FOLDERS`` is checked twice: building the dataset stops with one
``DatasetNotFoundError`` (a ``UserInputError``: ``train.py`` prints it as one line, exit 2), and
the data checker reports the folder as unusable with the same message.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import warnings

import pytest
from dataset_layouts import LAYOUTS
from runs import SYNTHETIC_YAML, run_main, snapshot, train_argv
from test_check_data import block, run_check
from test_cli_errors import PETS_YAML, assert_one_clear_error, with_dataset
from test_datasets import build

from metaprompt.datasets import base, toy
from metaprompt.datasets.base import DatasetNotFoundError
from metaprompt.datasets.synthetic import Synthetic
from metaprompt.errors import UserInputError
from metaprompt.toyworld.tasks import TASKS, Task

PETS, FLOWERS = "OxfordPets", "OxfordFlowers"
PETS_SPLIT = "oxford_pets/split_zhou_OxfordPets.json"


def edit_split(relpath: str, change):
    """A mutation that rewrites a split file written by a first run (``change(dict)`` edits it in place)."""
    def mutate(root):
        path = os.path.join(root, relpath)
        with open(path) as f:
            data = json.load(f)
        change(data)
        with open(path, "w") as f:
            json.dump(data, f)
    return mutate


def set_label(split: str, value):
    def change(data):
        data[split][0][1] = value
    return change


def relabel(old: int, new: int):
    def change(data):
        for items in data.values():
            for item in items:
                item[1] = new if item[1] == old else item[1]
    return change


def replace_line(relpath: str, number: int, text: str):
    def mutate(root):
        path = os.path.join(root, relpath)
        with open(path) as f:
            lines = f.read().splitlines()
        lines[number - 1] = text
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
    return mutate


def overwrite(relpath: str, data: bytes):
    def mutate(root):
        with open(os.path.join(root, relpath), "wb") as f:
            f.write(data)
    return mutate


def truncate(relpath: str):
    def mutate(root):
        path = os.path.join(root, relpath)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
    return mutate


def make_folder(relpath: str):
    return lambda root: os.makedirs(os.path.join(root, relpath))


# case, dataset, with a split file written by a first run?, mutation, message fragments
BROKEN_FOLDERS = [
    ("split path is a folder", PETS, False, make_folder(PETS_SPLIT),
     ["split_zhou_OxfordPets.json is a folder, not a split file", "delete it to build a new one"]),
    ("test label out of range", PETS, True, edit_split(PETS_SPLIT, set_label("test", 99)),
     ["split_zhou_OxfordPets.json: test label 99", "out of range", "labels 0..4", "scored as a wrong prediction"]),
    ("negative test label", PETS, True, edit_split(PETS_SPLIT, set_label("test", -1)),
     ["test label -1", "out of range"]),
    ("negative val label", PETS, True, edit_split(PETS_SPLIT, set_label("val", -3)), ["val label -3", "out of range"]),
    ("non-contiguous labels", PETS, True, edit_split(PETS_SPLIT, relabel(2, 7)),
     ["train labels are not 0..4 (labels 0..7, none for [2, 5, 6])", "contiguous from 0"]),
    ("label that is not an integer", PETS, True, edit_split(PETS_SPLIT, set_label("train", "3")),
     ["is not a valid split file", "the label of", "'3', not an integer"]),
    ("Pets class id not an integer", PETS, False, replace_line("oxford_pets/annotations/trainval.txt", 3,
                                                               "Abyssinian_9 one 1 1"),
     ["annotations/trainval.txt, line 3: class id 'one' is not an integer 1..37", "annotations.tar.gz"]),
    ("Pets class ids with a gap", PETS, False, replace_line("oxford_pets/annotations/test.txt", 1,
                                                            "Abyssinian_100 9 1 1"),
     ["the split built from", "test label 8", "out of range", "split_zhou_OxfordPets.json (link in CoOp's"]),
    ("corrupt Flowers .mat", FLOWERS, False, overwrite("oxford_flowers/imagelabels.mat", b"\x00garbage" * 40),
     ["oxford_flowers/imagelabels.mat is not a readable MATLAB file", "Put imagelabels.mat"]),
    ("truncated cat_to_name.json", FLOWERS, False, truncate("oxford_flowers/cat_to_name.json"),
     ["oxford_flowers/cat_to_name.json is not readable JSON", "Download cat_to_name.json"]),
]
IDS = [row[0] for row in BROKEN_FOLDERS]


def broken_root(tmp_path, name, with_split, mutate):
    LAYOUTS[name](str(tmp_path))
    if with_split:
        build(name, tmp_path)  # the first run writes the split file
    mutate(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("case,name,with_split,mutate,needles", BROKEN_FOLDERS, ids=IDS)
def test_broken_dataset_folder_is_one_clear_error(tmp_path, case, name, with_split, mutate, needles):
    root = broken_root(tmp_path, name, with_split, mutate)
    before = snapshot(root)
    with pytest.raises(DatasetNotFoundError) as e:
        build(name, root)
    message = str(e.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    assert snapshot(root) == before  # nothing written: no split file built from a broken source


@pytest.mark.parametrize("case,name,with_split,mutate,needles", BROKEN_FOLDERS, ids=IDS)
def test_data_checker_reports_the_broken_folder_as_unusable(tmp_path, capsys, case, name, with_split, mutate, needles):
    root = broken_root(tmp_path, name, with_split, mutate)
    code, out = run_check(capsys, root, name)
    report = block(out, name)
    assert code == 1 and report.startswith("[INCOMPLETE]"), report
    for needle in needles:
        assert needle in report, report
    assert "0 of 1 dataset(s) usable." in out


def test_a_broken_folder_through_train_py_is_one_line_exit_2(capsys, tmp_path):
    root = broken_root(tmp_path, PETS, False, make_folder(PETS_SPLIT))
    argv = with_dataset(train_argv(root, tmp_path / "out"), PETS_YAML)
    assert_one_clear_error(capsys, run_main(argv), "is a folder, not a split file")


# -- datasets that write themselves (the synthetic set, the toy world) ---------------------------
@pytest.fixture
def synthetic_copy(synthetic_root, tmp_path):
    """A private copy of the session's synthetic dataset, to break."""
    Synthetic(_cfg(synthetic_root))  # written on first use
    shutil.copytree(synthetic_root / "synthetic", tmp_path / "synthetic")
    return tmp_path


def _cfg(root, shots: int = -1, seed: int = 1):
    from metaprompt.config import build_cfg

    random.seed(seed)
    return build_cfg(SYNTHETIC_YAML, "", ["DATASET.NUM_SHOTS", str(shots)], {"DATASET.ROOT": str(root), "SEED": seed})


SYNTHETIC_SPLIT = "synthetic/split_zhou_Synthetic.json"
GENERATED = [  # case, mutation, message fragments; the advice (delete the folder) must then work
    ("corrupt generated split", truncate(SYNTHETIC_SPLIT), ["is not a valid split file", "delete its folder"]),
    ("generated split deleted", lambda root: os.remove(os.path.join(root, SYNTHETIC_SPLIT)),
     ["Split file not found", "delete its folder"]),
    ("generated split path is a folder",
     lambda root: (os.remove(os.path.join(root, SYNTHETIC_SPLIT)), os.makedirs(os.path.join(root, SYNTHETIC_SPLIT))),
     ["is a folder, not a split file", "delete its folder"]),
    ("label out of range in a generated split", edit_split(SYNTHETIC_SPLIT, set_label("test", 10)),
     ["test label 10", "out of range", "delete its folder"]),
]


@pytest.mark.parametrize("case,mutate,needles", GENERATED, ids=[row[0] for row in GENERATED])
def test_the_advice_for_a_broken_generated_dataset_works(synthetic_copy, case, mutate, needles):
    root = synthetic_copy
    mutate(str(root))
    with pytest.raises(DatasetNotFoundError) as e:
        Synthetic(_cfg(root))
    for needle in needles:
        assert needle in str(e.value), str(e.value)
    assert str(root / "synthetic") in str(e.value)
    shutil.rmtree(root / "synthetic")  # what the message says to do
    assert len(Synthetic(_cfg(root)).test) == 120


@pytest.fixture
def tiny_task(monkeypatch) -> Task:
    """A two-class toy task with one image per split, so generating it takes a fraction of a second."""
    monkeypatch.setattr(toy, "COUNTS", {"train": 1, "val": 1, "test": 1})
    shapes = TASKS["toy_shapes"]
    return Task("toy_tiny", "ToyTiny", shapes.classnames[:2], shapes.draw_scene, "two classes of toy_shapes")


TOY_STAMPS = [  # case, world.json content, message fragments
    ("truncated world.json", b'{"world_version": 1, "ta', ["world.json is unreadable", "JSONDecodeError"]),
    ("binary world.json", b"\xff\xfe\x00\x81", ["world.json is unreadable", "UnicodeDecodeError"]),
    ("world.json of another version", json.dumps({"world_version": 0}).encode(), ["another version of the toy world"]),
]


@pytest.mark.parametrize("case,content,needles", TOY_STAMPS, ids=[row[0] for row in TOY_STAMPS])
def test_bad_toy_world_stamp_is_one_clear_error_and_deleting_regenerates(tiny_task, tmp_path, case, content, needles):
    folder = tmp_path / "toy_tiny"
    toy.ensure_generated(tiny_task, str(folder), "split.json")
    (folder / "world.json").write_bytes(content)
    with pytest.raises(DatasetNotFoundError) as e:
        toy.ensure_generated(tiny_task, str(folder), "split.json")
    for needle in needles + [str(folder), "Delete that folder and run again"]:
        assert needle in str(e.value), str(e.value)
    assert (folder / "world.json").read_bytes() == content  # refused, not overwritten
    shutil.rmtree(folder)
    toy.ensure_generated(tiny_task, str(folder), "split.json")
    assert json.loads((folder / "world.json").read_text())["task"] == "toy_tiny"


def test_the_advice_for_a_corrupt_toy_split_works(tiny_task, tmp_path):
    class ToyTiny(toy.ToyDataset):  # the toy readers' code, on the two-class task
        task, dataset_dir, split_name = tiny_task, "toy_tiny", "split_zhou_ToyTiny.json"

    ToyTiny(_cfg(tmp_path))
    truncate("toy_tiny/split_zhou_ToyTiny.json")(str(tmp_path))
    advice = f"delete its folder {tmp_path}/toy_tiny and run again to regenerate it"
    with pytest.raises(DatasetNotFoundError, match=f"is not a valid split file .* {advice}"):
        ToyTiny(_cfg(tmp_path))
    shutil.rmtree(tmp_path / "toy_tiny")  # what the message says to do (it used to lead to a second error)
    assert len(ToyTiny(_cfg(tmp_path)).test) == 2


def test_two_first_runs_at_once_both_succeed(tiny_task, tmp_path, monkeypatch):
    """The other run renames its complete copy into place while this one is still writing: this one
    then uses that copy (it used to fail with "Directory not empty")."""
    folder = str(tmp_path / "toy_tiny")
    real_save_split = base.save_split
    raced = []

    def save_split_while_another_run_finishes(*args, **kwargs):
        if not raced:
            raced.append(1)
            toy.ensure_generated(tiny_task, folder, "split.json")  # the other run, start to end
        real_save_split(*args, **kwargs)

    monkeypatch.setattr(base, "save_split", save_split_while_another_run_finishes)
    toy.ensure_generated(tiny_task, folder, "split.json")  # must not raise
    assert raced
    assert json.loads(open(os.path.join(folder, "world.json")).read())["task"] == "toy_tiny"
    assert sorted(os.listdir(tmp_path)) == ["toy_tiny"]  # the losing copy was removed


# -- an optional cache on a read-only data root ------------------------------------------------------
def read_only(*args, **kwargs):
    raise PermissionError(13, "Permission denied")


def test_read_only_data_root_warns_about_the_few_shot_cache_and_the_run_continues(synthetic_copy, monkeypatch):
    monkeypatch.setattr(base, "write_json_atomic", read_only)
    with pytest.warns(UserWarning, match=r"Could not write the cache .*shot_2-seed_1\.json \(PermissionError: "
                                         r"Permission denied\); continuing without it"):
        dataset = Synthetic(_cfg(synthetic_copy, shots=2))
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached = Synthetic(_cfg(synthetic_copy, shots=2))  # writable again: same draw, now cached
    assert [d.impath for d in dataset.train_x] == [d.impath for d in cached.train_x]
    assert os.path.isfile(synthetic_copy / "synthetic" / "split_fewshot" / "shot_2-seed_1.json")


def test_read_only_dataset_folder_that_needs_its_split_written_is_one_clear_error(tmp_path, monkeypatch):
    LAYOUTS[PETS](str(tmp_path))
    monkeypatch.setattr(base, "write_json_atomic", read_only)
    with pytest.raises(UserInputError, match="Cannot write the split file .*split_zhou_OxfordPets.json "
                                             r"\(PermissionError: Permission denied\)"):
        build(PETS, tmp_path)


def test_read_only_imagenet_folder_warns_about_its_list_cache_and_reads_the_folders(tmp_path, monkeypatch):
    truth = LAYOUTS["ImageNet"](str(tmp_path))
    monkeypatch.setattr(base, "write_json_atomic", read_only)
    with pytest.warns(UserWarning, match=r"Could not write the cache .*imagenet/preprocessed\.json"):
        dataset = build("ImageNet", tmp_path)
    assert [(d.impath, d.label) for d in dataset.test] == [(p, y) for p, y, _ in truth.fixed["test"]]
    assert not os.path.exists(tmp_path / "imagenet" / "preprocessed.json")
