"""The data checker reports found/missing, the first missing file, counts per split and the fix."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys

from dataset_layouts import LAYOUTS
from test_datasets import build
from test_legacy_cache import SystemCall

from metaprompt.datasets.check import main


def run_check(capsys, root, *names) -> tuple[int, str]:
    code = main(["--root", str(root), *names])
    return code, capsys.readouterr().out


def block(out: str, name: str) -> str:
    """The report of one dataset: its head line (status in a 13-wide column) and the indented lines."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("[") and line[13:].startswith(f"{name} ("))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end])


def test_complete_dataset_reports_counts_per_split(tmp_path, capsys):
    truth = LAYOUTS["UCF101"](str(tmp_path))
    build("UCF101", tmp_path)  # writes the split file
    code, out = run_check(capsys, tmp_path, "ucf101")
    assert code == 0
    n_test = len(truth.test)
    n_val = sum(round(sum(1 for t in truth.trainval if t[1] == y) * 0.2) for y in range(5))
    n_train = len(truth.trainval) - n_val
    report = block(out, "UCF101")
    assert report.startswith("[note]")  # usable; counts differ from CoOp's full dataset
    assert f"train: 5 classes, {n_train} images (CoOp's: 101 classes, 7,639 images)" in report
    assert f"val: 5 classes, {n_val} images (CoOp's: 101 classes, 1,898 images)" in report
    assert f"test: 5 classes, {n_test} images (CoOp's: 101 classes, 3,783 images)" in report


def test_missing_folder_file_and_image_each_get_their_fix(tmp_path, capsys):
    LAYOUTS["OxfordFlowers"](str(tmp_path))
    build("OxfordFlowers", tmp_path)
    os.remove(tmp_path / "oxford_flowers" / "jpg" / "image_00007.jpg")
    LAYOUTS["ImageNetR"](str(tmp_path))
    os.remove(tmp_path / "imagenet-rendition" / "classnames.txt")
    LAYOUTS["Caltech101"](str(tmp_path))  # no split file: it will be built, with a note

    code, out = run_check(capsys, tmp_path, "oxford_flowers", "imagenet_r", "stanford_cars", "caltech101")
    assert code == 1
    flowers = block(out, "OxfordFlowers")
    assert flowers.startswith("[INCOMPLETE]")
    assert f"first missing: {tmp_path}/oxford_flowers/jpg/image_00007.jpg (1 of 26 listed images missing)" in flowers
    assert "fix: Images and imagelabels.mat: the Oxford 102 Flowers site" in flowers
    inr = block(out, "ImageNetR")
    assert inr.startswith("[INCOMPLETE]") and f"first missing: {tmp_path}/imagenet-rendition/classnames.txt" in inr
    assert "fix: Copy classnames.txt from the imagenet/ folder" in inr
    cars = block(out, "StanfordCars")
    assert cars.startswith("[MISSING]") and f"folder {tmp_path}/stanford_cars not found" in cars and "fix:" in cars
    caltech = block(out, "Caltech101")
    assert caltech.startswith("[note]") and "split_zhou_Caltech101.json not found: the first run builds" in caltech
    assert "1 of 4 dataset(s) usable." in out
    assert not os.path.exists(tmp_path / "caltech-101" / "split_zhou_Caltech101.json")  # the checker only reads


def test_refused_fewshot_pickle_is_reported_not_executed(tmp_path, capsys):
    LAYOUTS["OxfordPets"](str(tmp_path))
    build("OxfordPets", tmp_path)
    marker = tmp_path / "executed"
    os.makedirs(tmp_path / "oxford_pets" / "split_fewshot")
    (tmp_path / "oxford_pets" / "split_fewshot" / "shot_16-seed_1.pkl").write_bytes(pickle.dumps(SystemCall(marker)))
    code, out = run_check(capsys, tmp_path, "OxfordPets")
    assert code == 1
    report = block(out, "OxfordPets")
    assert report.startswith("[INCOMPLETE]") and "Refusing to load" in report and "posix.system" in report
    assert not marker.exists()


def test_command_line_gives_messages_not_tracebacks(tmp_path, repo):
    env = dict(os.environ, DATA=str(tmp_path), PYTHON=sys.executable)
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "check_data.sh"), "eurosat", "imagenet"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert "[MISSING]    EuroSAT (eurosat/)" in out.stdout and "fix: Images: EuroSAT.zip" in out.stdout
    assert "0 of 2 dataset(s) usable." in out.stdout

    env.pop("DATA")
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "check_data.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "DATA is not set" in out.stderr


def test_every_dataset_has_a_config_with_coops_file_name(repo):
    import yaml

    from metaprompt.datasets.check import DATASETS

    assert set(DATASETS.values()) == set(LAYOUTS)  # every reader has a fabricated layout in the tests
    for config_name, registry_name in DATASETS.items():
        with open(os.path.join(repo, "configs", "datasets", f"{config_name}.yaml")) as f:
            assert yaml.safe_load(f) == {"DATASET": {"NAME": registry_name}}


def test_counts_equal_to_coops_are_ok_and_missing_split_sources_are_named(tmp_path, capsys, monkeypatch):
    from metaprompt.datasets.sun397 import SUN397

    truth = LAYOUTS["SUN397"](str(tmp_path))
    build("SUN397", tmp_path)
    n_val = sum(round(sum(1 for t in truth.trainval if t[1] == y) * 0.2) for y in range(5))
    counts = {"train": (5, len(truth.trainval) - n_val), "val": (5, n_val), "test": (5, len(truth.test))}
    monkeypatch.setattr(SUN397, "published", counts)  # as if this were the full dataset
    code, out = run_check(capsys, tmp_path, "sun397")
    assert code == 0 and block(out, "SUN397").startswith("[ok]")
    assert f"train: 5 classes, {counts['train'][1]} images (as CoOp's)" in out

    LAYOUTS["UCF101"](str(tmp_path))
    os.remove(tmp_path / "ucf101" / "ucfTrainTestlist" / "testlist01.txt")
    code, out = run_check(capsys, tmp_path, "ucf101")
    report = block(out, "UCF101")
    assert code == 1 and report.startswith("[INCOMPLETE]")
    assert f"first missing: {tmp_path}/ucf101/split_zhou_UCF101.json (and {tmp_path}/ucf101/ucfTrainTestlist/" \
           "testlist01.txt, needed to build a split without it)" in report
    assert "fix: Download split_zhou_UCF101.json" in report
