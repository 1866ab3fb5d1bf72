"""Your own data without code: the Folder reader (class folders or a CSV), its bad inputs, the
data checker and the scripts on it. Expected splits are computed here from the documented rule
(sorted keys -> labels, sorted files, per class shuffle with the run's stream, 50/20/30 cut)."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess

import pytest
from dataset_layouts import image

import metaprompt.datasets  # noqa: F401  (registers the datasets)
from metaprompt.config import extend_cfg
from metaprompt.datasets.base import DatasetFileError, DatasetNotFoundError
from metaprompt.datasets.check import main as check_main
from metaprompt.runtime import DATASET_REGISTRY, get_cfg_default

CLASSES = ["cat", "sea_lake", "Zebra", "apple"]  # sorted: Zebra, apple, cat, sea_lake (byte order)


def build(root, folder="mine", shots=-1, seed=1, subsample="all", **keys):
    cfg = get_cfg_default()
    extend_cfg(cfg)
    cfg.DATASET.ROOT, cfg.DATASET.NAME, cfg.DATASET.FOLDER.DIR = str(root), "Folder", folder
    for key, value in keys.items():
        setattr(cfg.DATASET.FOLDER, key.upper(), value)
    cfg.DATASET.NUM_SHOTS, cfg.SEED, cfg.DATASET.SUBSAMPLE_CLASSES = shots, seed, subsample
    random.seed(seed)  # what the launcher does before the dataset is built
    return DATASET_REGISTRY.get("Folder")(cfg)


def class_folders(root, classes=CLASSES, n=10, folder="mine") -> str:
    d = os.path.join(str(root), folder)
    for c in classes:
        for i in range(n):
            image(os.path.join(d, c, f"{i:02d}.jpg"))
    return d


def triples(items):
    return [(os.path.relpath(x.impath), x.label, x.classname) for x in items]


def test_class_folders_make_a_seeded_50_20_30_split_written_beside_the_data(tmp_path, monkeypatch):
    d = class_folders(tmp_path)
    with open(os.path.join(d, "notes.txt"), "w") as f:  # not an image: ignored, like a stray file
        f.write("x")
    ds = build(tmp_path, seed=3)
    keys = sorted(CLASSES)
    assert keys == ["Zebra", "apple", "cat", "sea_lake"]
    random.seed(3)
    expected = {"train": [], "val": [], "test": []}
    for label, key in enumerate(keys):
        paths = [os.path.join(d, key, f"{i:02d}.jpg") for i in range(10)]
        random.shuffle(paths)
        name = key.replace("_", " ")
        for split, part in (("train", paths[:5]), ("val", paths[5:7]), ("test", paths[7:])):
            expected[split] += [(p, label, name) for p in part]
    got = {"train": ds.train_x, "val": ds.val, "test": ds.test}
    for split in expected:
        assert [(x.impath, x.label, x.classname) for x in got[split]] == expected[split]
    assert ds.classnames == ["Zebra", "apple", "cat", "sea lake"]
    with open(os.path.join(d, "split_folder.json")) as f:
        stored = json.load(f)
    assert stored["train"][0] == [os.path.relpath(expected["train"][0][0], d), 0, "Zebra"]

    # Later runs read the file: another seed gets the same split.
    again = build(tmp_path, seed=7)
    assert [(x.impath, x.label) for x in again.test] == [(p, y) for p, y, _ in expected["test"]]


def test_few_shots_and_base_new_halves_work_as_on_the_benchmarks(tmp_path):
    class_folders(tmp_path)
    base = build(tmp_path, shots=2, subsample="base")
    new = build(tmp_path, shots=2, subsample="new")
    assert base.classnames == ["Zebra", "apple"] and new.classnames == ["cat", "sea lake"]
    assert len(base.train_x) == 4 and {x.label for x in new.train_x} == {0, 1}
    assert os.path.isfile(os.path.join(tmp_path, "mine", "split_fewshot", "shot_2-seed_1.json"))
    # The cache folder is not read as a class on the next run.
    assert build(tmp_path).num_classes == 4


def write_csv(d, rows, name="labels.csv", sep=","):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        f.write("".join(sep.join(r) + "\n" for r in rows))


def test_csv_with_splits_and_a_names_file_is_used_as_given(tmp_path):
    d = os.path.join(tmp_path, "mine")
    rows = [("path", "label", "split")]
    for label in range(12):  # numeric labels sort as numbers: 2 before 10
        for i, split in enumerate(("train", "train", "val", "test")):
            rows.append((image(os.path.join(d, "img", f"{label}-{i}.png"))[len(d) + 1:], str(label), split))
    write_csv(d, rows, "labels.tsv", "\t")
    with open(os.path.join(d, "classnames.txt"), "w") as f:
        f.write("".join(f"{k} class_{k}\n" for k in range(12)) + "10\tten or_so\n")
    ds = build(tmp_path)
    assert ds.classnames[:3] == ["class 0", "class 1", "class 2"] and ds.classnames[10] == "ten or so"
    assert [(os.path.basename(x.impath), x.label) for x in ds.test[:2]] == [("0-3.png", 0), ("1-3.png", 1)]
    assert len(ds.train_x) == 24 and len(ds.val) == 12
    assert not os.path.exists(os.path.join(d, "split_folder.json"))  # the CSV's split is the split


def test_csv_without_splits_gets_a_split_file(tmp_path):
    d = os.path.join(tmp_path, "mine")
    rows = [(image(os.path.join(d, f"{c}{i}.jpg"))[len(d) + 1:], c) for c in ("b", "a") for i in range(4)]
    write_csv(d, rows)
    ds = build(tmp_path)
    assert ds.classnames == ["a", "b"] and len(ds.train_x) == 4 and len(ds.test) == 2
    assert os.path.isfile(os.path.join(d, "split_folder.json"))


def _empty_class(d):
    class_folders(os.path.dirname(d), ["a", "b"], folder=os.path.basename(d))
    os.makedirs(os.path.join(d, "c"))


def _one_class(d):
    class_folders(os.path.dirname(d), ["only"], folder=os.path.basename(d))


def _unreadable(d):
    class_folders(os.path.dirname(d), ["a", "b"], folder=os.path.basename(d))
    with open(os.path.join(d, "b", "03.jpg"), "wb") as f:
        f.write(b"not an image")


def _duplicate(d):
    write_csv(d, [(image(os.path.join(d, "x.jpg"))[len(d) + 1:], "a"), ("y.jpg", "b"), ("./x.jpg", "b")])
    image(os.path.join(d, "y.jpg"))


def _names_missing(d):
    class_folders(os.path.dirname(d), ["a", "b", "c"], folder=os.path.basename(d))
    with open(os.path.join(d, "classnames.txt"), "w") as f:
        f.write("a Apple\n")


def _stale_split(d):
    class_folders(os.path.dirname(d), ["a", "b"], folder=os.path.basename(d))
    build(os.path.dirname(d), folder=os.path.basename(d))
    image(os.path.join(d, "a", "new.jpg"))


BAD = {
    "empty class folder": (_empty_class, r"class folder .*/c holds no images"),
    "one class only": (_one_class, r"holds one class only \('only'\)"),
    "unreadable image": (_unreadable, r"1 of 20 images cannot be read as images, e\.g\. .*b/03\.jpg"),
    "duplicate path": (_duplicate, r"duplicate path \./x\.jpg \(rows 1 and 3\)"),
    "label missing from the names file": (_names_missing, r"classnames\.txt has no line for 2 of 3 labels, e\.g\. b, c"),
    "stale split file": (_stale_split, r"split_folder\.json was made for other images"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_in_the_reader_and_the_checker(tmp_path, capsys, case):
    make, pattern = BAD[case]
    make(os.path.join(tmp_path, "mine"))
    with pytest.raises(DatasetFileError, match=pattern) as e:
        build(tmp_path)
    assert "\n" not in str(e.value)
    capsys.readouterr()
    assert check_main(["--root", str(tmp_path), "mine"]) == 1
    out = capsys.readouterr().out
    assert "[INCOMPLETE] Folder (mine/)" in out and re.search(pattern, out)


def test_checker_reports_a_usable_folder_and_names_what_is_unknown(tmp_path, capsys):
    class_folders(tmp_path)
    assert check_main(["--root", str(tmp_path), "mine"]) == 0
    out = capsys.readouterr().out
    assert "[note]" in out and "4 classes, 40 images (all readable)" in out and "to match the papers" not in out
    build(tmp_path)
    assert check_main(["--root", str(tmp_path), "mine"]) == 0
    assert "train: 4 classes, 20 images" in capsys.readouterr().out
    assert check_main(["--root", str(tmp_path), "nothing_here"]) == 2
    assert "no folder nothing_here/ of your own data" in capsys.readouterr().err
    with pytest.raises(DatasetNotFoundError, match="dataset folder .*/absent not found"):
        build(tmp_path, folder="absent")


def script(repo, env, *argv, timeout=120):
    return subprocess.run(["bash", os.path.join(repo, "scripts", argv[0]), *argv[1:]], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_base2new_script_on_a_folder_gives_the_table(repo, script_env, tmp_path, capsys):
    """The script's own commands (a dry run prints them), run in-process to spare interpreter start-ups."""
    from runs import run_main

    from metaprompt.results import tables
    from metaprompt.results.logparse import print_base2new

    data = tmp_path / "data"
    class_folders(data, folder="my_pets")
    env = dict(script_env, DATA=str(data), TRAINER="CoOp", CFG="smoke", SHOTS="2", DRY_RUN="1")
    dry = script(repo, env, "base2new.sh", "my_pets", "1", "OPTIM.MAX_EPOCH", "1")
    assert dry.returncode == 0, dry.stderr
    commands = re.findall(r"^Would run (?:training|evaluation): \S+ \S+/train\.py (.*)$", dry.stdout, re.M)
    assert len(commands) == 2, dry.stdout
    for command in commands:
        argv = command.replace("--load-epoch LAST", "--load-epoch 1").split()
        assert "configs/datasets/folder.yaml" in command and argv[-2:] == ["DATASET.FOLDER.DIR", "my_pets"]
        assert run_main(argv) == 0
    runs = os.path.join(env["OUTPUT"], "base2new", "{}", "my_pets/shots_2/CoOp/smoke/seed1")
    capsys.readouterr()
    assert print_base2new(runs.format("train_base"), runs.format("test_new")) == 0
    assert re.search(r"Base: [\d.]+  New: [\d.]+  HM: [\d.]+", capsys.readouterr().out)
    assert tables.main([env["OUTPUT"], "--setting", "base2new", "--datasets", "my_pets", "--seeds", "1"]) == 0
    assert "my_pets" in capsys.readouterr().out

    # Every sweep script takes the folder's name like a benchmark dataset's (dry runs).
    env.update(SOURCE="my_pets", TARGETS="my_pets", DATASETS="my_pets", SEEDS="1")
    for argv in (["sweep.sh", "fewshot"], ["sweep.sh", "xd"], ["fewshot.sh", "my_pets", "1", "2"]):
        res = script(repo, env, *argv)
        assert res.returncode == 0, res.stderr
        assert "configs/datasets/folder.yaml" in res.stdout and "DATASET.FOLDER.DIR my_pets" in res.stdout
    typo = script(repo, env, "base2new.sh", "my_pet", "1")
    assert typo.returncode == 2 and "or the name of a folder of your own data under DATA" in typo.stderr
