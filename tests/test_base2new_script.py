"""The main job: ``bash scripts/base2new.sh synthetic SEED`` trains, tests and reports Base/New/HM."""
import os
import re
import subprocess


def run(repo, env, *args):
    env = dict(env, TRAINER="CoOp")  # the scripts' default trainer is ProMetaR; this pins the CoOp tree
    return subprocess.run(["bash", os.path.join(repo, "scripts", "base2new.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_base2new_smoke_reports_base_new_hm_and_skips_finished_runs(repo, script_env):
    out = run(repo, script_env, "synthetic", "1", "OPTIM.MAX_EPOCH", "2")
    assert out.returncode == 0, out.stderr[-3000:]
    m = re.search(r"Base: ([\d.]+)  New: ([\d.]+)  HM: ([\d.]+)", out.stdout)
    assert m, out.stdout[-2000:]
    base, new, hm = map(float, m.groups())
    assert abs(hm - 2 * base * new / (base + new)) < 0.01
    assert "not a benchmark" in out.stdout
    train_dir = os.path.join(script_env["OUTPUT"], "base2new/train_base/synthetic/shots_16/CoOp/smoke/seed1")
    assert os.path.isfile(os.path.join(train_dir, "prompt_learner", "model.pth.tar-2"))
    assert os.path.isdir(os.path.join(train_dir, "tensorboard"))

    again = run(repo, script_env, "synthetic", "1", "OPTIM.MAX_EPOCH", "2")
    assert again.returncode == 0
    assert "Skip training" in again.stdout and "Skip evaluation" in again.stdout
    assert m.group(0) in again.stdout


def test_base2new_without_data_for_real_dataset_says_what_to_do(repo, script_env):
    out = run(repo, script_env, "oxford_pets", "1")
    assert out.returncode == 2
    assert "DATA is not set" in out.stderr
