"""The toy-world comparison: recipe selection, the one-table summary, scripts/toy_table.sh end to end."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from results_fixtures import write_log

from metaprompt.learners import learner_names
from metaprompt.results.catalog import TOY_DATASETS
from metaprompt.results.tables import build_tables, main

TOY = TOY_DATASETS


def run_dir(root, phase, dataset, trainer, seed):
    return os.path.join(root, "base2new", phase, dataset, "shots_16", trainer, "toy", f"seed{seed}")


def test_default_recipe_is_toy_for_toy_datasets_and_never_for_real_ones(repo):
    def default_cfg(trainer, dataset):
        cmd = f'source "{repo}/scripts/_common.sh"; default_cfg {trainer} {dataset}'
        return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True).stdout.strip()

    for trainer in (*learner_names(), "ProMetaR", "GRAM"):
        assert os.path.isfile(os.path.join(repo, "configs", "trainers", trainer, "toy.yaml")), trainer
        assert default_cfg(trainer, "toy_shapes") == "toy"
        assert default_cfg(trainer, "synthetic") == "smoke"
        assert default_cfg(trainer, "oxford_pets") not in ("toy", "smoke")


@pytest.fixture
def toy_results(tmp_path):
    """CoOp complete on the three toy datasets over 3 seeds; ZeroshotCLIP missing toy_sketch seed 3."""
    root = str(tmp_path)
    acc = {}
    for i, ds in enumerate(TOY):
        for seed in (1, 2, 3):
            acc["CoOp", ds, seed] = (80.0 + i + seed, 40.0 + i - seed)
            acc["ZeroshotCLIP", ds, seed] = (60.0 + i, 55.0 + i)
    del acc["ZeroshotCLIP", "toy_sketch", 3]
    for (trainer, ds, seed), (b, n) in acc.items():
        write_log(run_dir(root, "train_base", ds, trainer, seed), b, backbone="toy-vit")
        write_log(run_dir(root, "test_new", ds, trainer, seed), n, backbone="toy-vit")
    write_log(run_dir(root, "train_base", "eurosat", "CoOp", 1), 99.0)  # not one of the datasets asked for
    return root, acc


def test_logparse_knows_the_openai_models_and_says_what_a_toy_result_is(tmp_path):
    """logparse.py runs without torch, so it keeps its own copy of the model names."""
    from metaprompt.clip.loading import OPENAI_FILES
    from metaprompt.results import logparse

    assert set(logparse.OPENAI_MODELS) == set(OPENAI_FILES)
    assert logparse.backbone_note("ViT-B/16") is None and "toy world" in logparse.backbone_note("toy-vit")
    assert "toy world" in logparse.backbone_note("toy-vit-l12")
    assert "smoke run" in logparse.backbone_note("tiny-vit")
    train, test = str(tmp_path / "train"), str(tmp_path / "test")
    write_log(train, 80.0, backbone="toy-vit")
    write_log(test, 40.0, backbone="toy-vit")
    out = subprocess.run([sys.executable, logparse.__file__, "base2new", train, test], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("Base: 80.00  New: 40.00  HM: 53.33\nNOTE: backbone 'toy-vit'")


def test_average_over_the_datasets_asked_for(toy_results):
    root, acc = toy_results
    (coop,) = build_tables(root, "base2new", trainer="CoOp", seeds=(1, 2, 3), datasets=TOY)
    assert [r.dataset for r in coop.rows] == [*TOY, "average"]
    shapes = coop.rows[0].cells
    assert shapes["Base"].mean == pytest.approx(82.0) and shapes["Base"].std == pytest.approx(np.std([81, 82, 83]))
    base = np.mean([np.mean([acc["CoOp", d, s][0] for s in (1, 2, 3)]) for d in TOY])
    new = np.mean([np.mean([acc["CoOp", d, s][1] for s in (1, 2, 3)]) for d in TOY])
    average = coop.rows[-1].cells
    assert average["Base"].mean == pytest.approx(base) and average["HM"].mean == pytest.approx(2 * base * new / (base + new))
    assert coop.rows[-1].label == "Average (3 datasets)" and not coop.problems
    assert any("toy-vit" in n and "not with published numbers" in n for n in coop.notes)


def test_summary_puts_every_method_in_one_table_zero_shot_first(toy_results, capsys):
    root, _ = toy_results
    assert main([root, "--cfg", "toy", "--datasets", *TOY, "--seeds", "1", "2", "3", "--format", "summary"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == ["Dataset", "Method", "Base", "New", "HM"]
    body = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[1:]]
    assert [(d, m) for d, m, *_ in body[:2]] == [("ToyShapes", "ZeroshotCLIP"), ("ToyShapes", "CoOp")]
    assert body[1][2:] == ["82.00 ± 0.82", "38.00 ± 0.82", "51.93"]
    assert ["ToySketch", "ZeroshotCLIP", "62.00 ± 0.00 (2/3)", "57.00 ± 0.00 (2/3)", "59.39 (partial)"] in body
    assert body[-2][:2] == ["Average (3 datasets)", "ZeroshotCLIP"] and body[-2][4] == "n/a"  # incomplete: not averaged
    assert "ZeroshotCLIP: toy_sketch Base seed 3: missing" in out and "EuroSAT" not in out


def test_toy_table_script_runs_every_kind_of_method_and_prints_one_table(repo, script_env):
    """Zero-shot, a plain learner and GRAM (corpus + meta-training + downstream), one quick epoch each."""
    env = dict(script_env, TRAINERS="ZeroshotCLIP CoOp GRAM", DATASETS="toy_textures", SEEDS="1", JOBS="2")
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "toy_table.sh"), "OPTIM.MAX_EPOCH", "1",
                          "TRAINER.GRAM.META.STEPS", "3"], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    body = [[c.strip() for c in line.split("|")[1:-1]] for line in out.stdout.splitlines() if line.startswith("| ")]
    assert [row[:2] for row in body[1:4]] == [["ToyTextures", m] for m in ("ZeroshotCLIP", "CoOp", "GRAM")]
    for row in body[1:4]:
        assert row[2].endswith("± 0.00") and row[3].endswith("± 0.00")  # one seed: std 0, nothing missing
    table = os.path.join(script_env["OUTPUT"], "toy_table", "table.md")
    assert open(table).read().strip() in out.stdout
    gram_log = open(os.path.join(script_env["OUTPUT"], "base2new", "train_base", "toy_textures", "shots_16", "GRAM",
                                 "toy", "seed1", "log.txt")).read()
    assert "Loaded the meta-learned prompt initialization" in gram_log and "toy-vit" in gram_log

    # Run again: every run is finished, so nothing is retrained and the table is the same.
    again = subprocess.run(["bash", os.path.join(repo, "scripts", "toy_table.sh"), "OPTIM.MAX_EPOCH", "1",
                            "TRAINER.GRAM.META.STEPS", "3"], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and open(table).read().strip() in again.stdout
    logs = os.path.join(script_env["OUTPUT"], "toy_table", "logs")
    assert "Skip training" in open(os.path.join(logs, "CoOp-toy_textures-seed1.log")).read()


def test_an_average_over_other_datasets_is_never_set_beside_the_papers_average(toy_results):
    root, _ = toy_results
    (coop,) = build_tables(root, "base2new", trainer="CoOp", seeds=(1, 2, 3), datasets=TOY, compare=["CoOp"])
    assert coop.rows[-1].cells["HM"].mean is not None
    assert coop.rows[-1].published == {"CoOp": {"Base": None, "New": None, "HM": None}}
    (full,) = build_tables(root, "base2new", trainer="CoOp", seeds=(1, 2, 3), compare=["CoOp"])
    assert full.rows[-1].published["CoOp"]["HM"] is not None  # the 11-dataset average keeps its column


def test_sweep_over_toy_datasets_averages_over_them(repo, script_env):
    env = dict(script_env, TRAINER="CoOp", DATASETS="toy_textures", SEEDS="1")
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "sweep.sh"), "base2new", "OPTIM.MAX_EPOCH", "1"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    average = next(line for line in out.stdout.splitlines() if line.startswith("Average"))
    assert average.startswith("Average (1 datasets)") and "n/a" not in average


def test_toy_table_rows_name_a_recipe_that_exists(repo, script_env):
    env = dict(script_env, TRAINERS="ProMetaR:toy_no_such_row", DATASETS="toy_textures", SEEDS="1")
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "toy_table.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == ("error: no toy recipe 'toy_no_such_row' for trainer 'ProMetaR' "
                                  "(configs/trainers/ProMetaR/toy_no_such_row.yaml); give TRAINER or TRAINER:CFG")
