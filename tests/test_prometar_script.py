"""``TRAINER=ProMetaR bash scripts/base2new.sh synthetic 1`` over every wrapped learner."""
import os
import re
import subprocess

import pytest

LEARNERS = [("IVLP", {"text", "vision"}), ("CoOp", {"text"}), ("VPT", {"vision"}), ("MaPLe", {"text", "coupling"})]


@pytest.mark.parametrize("base, modalities", LEARNERS)
def test_base2new_runs_prometar_over_each_wrapped_learner(repo, script_env, base, modalities):
    env = {**script_env, "TRAINER": "ProMetaR", "CFG": "smoke", "SHOTS": "2", "OMP_NUM_THREADS": "1"}
    opts = ["OPTIM.MAX_EPOCH", "1", "OPTIM_VNET.MAX_EPOCH", "1"]
    if base != "IVLP":
        opts += ["TRAINER.PROMETAR.BASE", base]
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "base2new.sh"), "synthetic", "1", *opts], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    m = re.search(r"Base: ([\d.]+)  New: ([\d.]+)  HM: ([\d.]+)", out.stdout)
    assert m, out.stdout[-2000:]

    train_dir = os.path.join(env["OUTPUT"], "base2new/train_base/synthetic/shots_2/ProMetaR/smoke/seed1")
    with open(os.path.join(train_dir, "log.txt")) as f:
        log = f.read()
    assert f"ProMetaR wraps {base}" in log
    assert "loss_meta" in log  # Step B ran
    for modality in ("text", "vision", "coupling"):  # gamma statistics of exactly the learner's modalities
        assert (f"gamma_{modality}_mean" in log) == (modality in modalities), modality
    assert os.path.isfile(os.path.join(train_dir, "prometar_gate", "model.pth.tar-1"))
