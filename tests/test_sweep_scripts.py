"""The sweep scripts: argument checks, defaults, output trees, and a whole sweep that is interrupted
and re-run without redoing finished runs (tiny CLIP, embedded + fabricated data, CPU)."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from results_fixtures import PETS, fabricate_pets

from metaprompt.results.logparse import read_run, run_logs

SCRIPTS = ["base2new", "base2new_train", "base2new_test", "xd", "xd_train", "xd_test", "dg", "dg_test",
           "fewshot", "sweep"]


def bash(repo, script, *args, env, cwd=None, timeout=600):
    return subprocess.run(["bash", os.path.join(repo, "scripts", f"{script}.sh"), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    fabricate_pets(str(root))
    return str(root)


@pytest.mark.parametrize("script", SCRIPTS)
def test_missing_arguments_print_usage(repo, script_env, script, tmp_path):
    out = bash(repo, script, env=script_env, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("usage: ") and f"{script}.sh" in out.stderr, out.stderr


@pytest.mark.parametrize("script,args", [
    ("base2new", ["oxford_pets", "1"]), ("base2new_train", ["oxford_pets", "1"]),
    ("base2new_test", ["oxford_pets", "1"]), ("xd", ["1"]), ("xd_train", ["imagenet", "1"]),
    ("xd_test", ["caltech101", "1"]), ("dg", ["1"]), ("dg_test", ["imagenetv2", "1"]),
    ("fewshot", ["oxford_pets", "1", "4"]), ("sweep", ["base2new"]),
])
def test_real_dataset_without_data_gives_the_data_hint(repo, script_env, script, args, tmp_path):
    out = bash(repo, script, *args, env=script_env, cwd=tmp_path)
    assert out.returncode == 2
    assert "DATA is not set" in out.stderr and "DATA=/path/to/datasets" in out.stderr
    hint = out.stderr.split("try the embedded dataset: ")[1]
    assert "toy_shapes" in hint or "SOURCE=synthetic" in hint
    assert f"scripts/{script}.sh" in hint  # a command for the script that was run
    assert not (tmp_path / "output").exists()


def test_bad_arguments_are_refused(repo, script_env, tmp_path):
    for script, args, message in [
        ("base2new", ["synthetic", "one"], "SEED must be a non-negative integer"),
        ("base2new", ["synthetic", "1", "OPTIM.MAX_EPOCH"], "KEY VALUE pairs"),
        ("base2new_train", ["synthetic", "1", "0"], "CUDA_VISIBLE_DEVICES=0"),  # the release's GPU argument
        ("fewshot", ["synthetic", "1", "0"], "SHOTS must be at least 1"),
        ("sweep", ["b2n"], "unknown setting 'b2n'"),
        ("base2new_train", ["synthetc", "1"], "unknown dataset(s): synthetc"),
    ]:
        out = bash(repo, script, *args, env=dict(script_env, DATA=str(tmp_path)), cwd=tmp_path)
        assert out.returncode == 2 and message in out.stderr, (script, out.stderr)


def test_defaults_are_prometar_with_the_release_recipe_and_smoke_for_embedded(repo):
    env = {k: v for k, v in os.environ.items() if k not in ("TRAINER", "CFG")}
    out = subprocess.run(["bash", "-c", f'source {repo}/scripts/_common.sh; echo "$TRAINER"; '
                          'default_cfg "$TRAINER" oxford_pets; default_cfg "$TRAINER" synthetic'],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ProMetaR", "vit_b16_c2_ep10_batch4_4+4ctx", "smoke"]


def test_dry_run_shows_trees_and_passes_overrides_to_every_run(repo, script_env, tmp_path, data):
    env = {k: v for k, v in script_env.items() if k != "OUTPUT"}  # default: output/ in the working directory
    env.update(TRAINER="MaPLe", DRY_RUN="1")
    out = bash(repo, "base2new", "synthetic", "1", "OPTIM.MAX_EPOCH", "2", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    train, test = [line for line in out.stdout.splitlines() if line.startswith("Would run")]
    assert "--output-dir output/base2new/train_base/synthetic/shots_16/MaPLe/smoke/seed1 " in train
    assert train.endswith("DATASET.NUM_SHOTS 16 DATASET.SUBSAMPLE_CLASSES base OPTIM.MAX_EPOCH 2")
    assert "--output-dir output/base2new/test_new/synthetic/shots_16/MaPLe/smoke/seed1 " in test
    assert "--model-dir output/base2new/train_base/synthetic/shots_16/MaPLe/smoke/seed1 --load-epoch LAST --eval-only" in test
    assert test.endswith("DATASET.SUBSAMPLE_CLASSES new OPTIM.MAX_EPOCH 2")

    # Cross-dataset: the recipe follows the source (smoke for the embedded one) for every target.
    env.update(TRAINER="CoOp", DATA=data, SOURCE="synthetic", TARGETS="oxford_pets synthetic")
    out = bash(repo, "xd", "3", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    runs = re.findall(r"--output-dir (\S+)", out.stdout)
    assert runs == ["output/xd/train/synthetic/shots_16/CoOp/smoke/seed3",
                    "output/xd/test/oxford_pets/shots_16/CoOp/smoke/seed3",
                    "output/xd/test/synthetic/shots_16/CoOp/smoke/seed3"]
    assert out.stdout.count("--model-dir output/xd/train/synthetic/shots_16/CoOp/smoke/seed3") == 2
    out = bash(repo, "dg_test", "oxford_pets", "3", env=env, cwd=tmp_path)
    assert re.findall(r"--output-dir (\S+)", out.stdout) == ["output/dg/test/oxford_pets/shots_16/CoOp/smoke/seed3"]
    out = bash(repo, "fewshot", "oxford_pets", "2", "8", env=env, cwd=tmp_path)
    assert "--output-dir output/fewshot/oxford_pets/shots_8/CoOp/vit_b16_ctxv1/seed2 DATASET.NUM_SHOTS 8" in out.stdout


def test_sweep_stops_at_a_failed_run_or_keeps_going(repo, script_env, tmp_path):
    (tmp_path / "empty").mkdir()  # the data root exists; the dataset folder inside it does not
    env = dict(script_env, DATA=str(tmp_path / "empty"), TRAINER="CoOp", CFG="smoke", SEEDS="1",
               DATASETS="oxford_pets synthetic")
    out = bash(repo, "sweep", "base2new", env=env, cwd=tmp_path)
    assert out.returncode == 2 and "Re-run the sweep to continue" in out.stderr
    assert "OxfordPets: dataset folder not found" in out.stderr
    assert not (Path(script_env["OUTPUT"]) / "base2new/train_base/synthetic").exists()  # stopped before it

    out = bash(repo, "sweep", "base2new", env=dict(env, KEEP_GOING="1", DATASETS="oxford_pets"), cwd=tmp_path)
    assert out.returncode == 1
    assert "2 step(s) failed" in out.stderr and "base2new_test.sh oxford_pets 1" in out.stderr
    # The evaluation of a failed training run is not started (it would refuse an unfinished model).
    assert "base2new_test.sh oxford_pets 1 (not run: 'base2new_train.sh oxford_pets 1' failed)" in out.stderr


def b2n_dirs(output, dataset, seed):
    tail = f"{dataset}/shots_16/CoOp/smoke/seed{seed}"
    return [output / "base2new" / "train_base" / tail, output / "base2new" / "test_new" / tail]


def test_whole_sweep_interrupted_and_rerun_skips_finished_runs(repo, script_env, tmp_path, data):
    output = Path(script_env["OUTPUT"])
    env = dict(script_env, DATA=data, TRAINER="CoOp", CFG="smoke", DATASETS="synthetic oxford_pets", SEEDS="1 2")
    cmd = ["bash", os.path.join(repo, "scripts", "sweep.sh"), "base2new", "OPTIM.MAX_EPOCH", "1"]
    runs = [d for ds in ("synthetic", "oxford_pets") for s in (1, 2) for d in b2n_dirs(output, ds, s)]
    victim = runs[2]  # synthetic seed 2 training: interrupted once it has started

    with open(tmp_path / "first.txt", "w") as first:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=first, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.time() + 400
            while not (victim / "log.txt").exists():
                assert proc.poll() is None, (tmp_path / "first.txt").read_text()[-3000:]
                assert time.time() < deadline, "the sweep did not reach the second run"
                time.sleep(0.1)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the training run it started
            except ProcessLookupError:
                pass
            proc.wait()

    done_before = {d: read_run(str(d)).finished for d in runs}
    assert done_before[runs[0]] and done_before[runs[1]], "synthetic seed 1 (train + test) finished first"
    assert not done_before[victim] and read_run(str(victim)).started
    logs_before = {d: {p: os.path.getmtime(p) for p in run_logs(str(d))} for d in runs if done_before[d]}
    crashed_log = (victim / "log.txt").read_bytes()

    again = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    for d in runs:
        verb = "Skip" if done_before[d] else "Run"
        what = "training" if "train_base" in str(d) else "evaluation"
        assert f"{verb} {what}: {d}" in again.stdout, d
        assert read_run(str(d)).finished, d
    for d, logs in logs_before.items():  # finished runs untouched: same logs, same times
        assert {p: os.path.getmtime(p) for p in run_logs(str(d))} == logs
    victim_logs = run_logs(str(victim))
    # The re-run appends to the crashed run's log.txt: whatever the crashed run wrote is kept first.
    assert len(victim_logs) == 1 and (victim / "log.txt").read_bytes().startswith(crashed_log)

    table = again.stdout[again.stdout.index("== base2new: CoOp / smoke, 16 shots, seeds 1, 2 =="):]
    assert re.search(r"OxfordPets +\d+\.\d\d ± \d+\.\d\d +\d+\.\d\d ± \d+\.\d\d +\d+\.\d\d ", table)
    assert re.search(r"Synthetic +\d+\.\d\d ± \d+\.\d\d +\d+\.\d\d ± \d+\.\d\d +\d+\.\d\d ", table)
    assert "Missing or unfinished" not in table and "not a benchmark result" in table

    # A third pass has nothing left to do, although the interrupted folder still holds its crashed log.
    third = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0
    assert third.stdout.count("Skip ") == len(runs) and "Run " not in third.stdout


def test_cross_dataset_domain_generalization_and_fewshot_on_tiny_data(repo, script_env, tmp_path, data):
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in script_env.items() if k != "OUTPUT"}  # output/ in the working directory
    env.update(DATA=data, TRAINER="CoOp", SOURCE="synthetic", TARGETS="oxford_pets")
    output = work / "output"

    out = bash(repo, "fewshot", "synthetic", "1", "2", "OPTIM.MAX_EPOCH", "1", env=env, cwd=work)
    assert out.returncode == 0, out.stderr[-3000:]
    run = read_run(str(output / "fewshot/synthetic/shots_2/CoOp/smoke/seed1"))
    assert run.finished and f"2 shots, seed 1: accuracy {run.accuracy:.2f} ==" in out.stdout

    out = bash(repo, "xd", "1", "OPTIM.MAX_EPOCH", "1", env=env, cwd=work)
    assert out.returncode == 0, out.stderr[-3000:]
    assert read_run(str(output / "xd/train/synthetic/shots_16/CoOp/smoke/seed1")).finished
    target = output / "xd/test/oxford_pets/shots_16/CoOp/smoke/seed1"
    assert read_run(str(target)).finished
    # The source model (10 synthetic classes) was evaluated on the target's 4 classes, all test images.
    assert f"* total: {3 * len(PETS)}" in Path(run_logs(str(target))[-1]).read_text()
    assert "Synthetic (source)" in out.stdout and "OxfordPets" in out.stdout

    out = bash(repo, "dg", "1", "OPTIM.MAX_EPOCH", "1", env=env, cwd=work)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Skip training: output/xd/train/synthetic/shots_16/CoOp/smoke/seed1" in out.stdout
    assert read_run(str(output / "dg/test/oxford_pets/shots_16/CoOp/smoke/seed1")).finished
    assert "== dg: CoOp / smoke, 16 shots, seeds 1 ==" in out.stdout
