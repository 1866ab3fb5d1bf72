"""Every learner (and zero-shot CLIP) runs ``scripts/base2new.sh`` end to end on the embedded dataset."""
import os
import re
import subprocess

import pytest

from metaprompt.learners import learner_names

TRAINERS = list(learner_names())  # every registered learner


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))  # the synthetic dataset is written once for all runs


@pytest.mark.parametrize("trainer", TRAINERS)
def test_base2new_script_reports_base_new_hm(repo, script_env, shared_data, trainer):
    # One thread: the tiny model gains nothing from more, and they thrash on a busy CI machine.
    env = {**script_env, "TRAINER": trainer, "DATA": shared_data, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "base2new.sh"), "synthetic", "1", "OPTIM.MAX_EPOCH", "1"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert f"== {trainer} / smoke on synthetic, seed 1 ==" in out.stdout
    m = re.search(r"Base: ([\d.]+)  New: ([\d.]+)  HM: ([\d.]+)", out.stdout)
    assert m, out.stdout[-2000:]
    base, new, hm = map(float, m.groups())
    assert abs(hm - 2 * base * new / (base + new)) < 0.01
    print(f"{trainer}: Base {base:.2f}  New {new:.2f}  HM {hm:.2f}")

    train_dir = os.path.join(script_env["OUTPUT"], f"base2new/train_base/synthetic/shots_16/{trainer}/smoke/seed1")
    checkpoint = os.path.join(train_dir, "prompt_learner", "model.pth.tar-1")
    if trainer == "ZeroshotCLIP":
        assert not os.path.exists(checkpoint) and "training is skipped" in out.stdout
    else:
        assert os.path.isfile(checkpoint)
