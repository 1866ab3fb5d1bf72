"""The same trainers inside real Dassl (optional: skipped unless ``dassl`` is importable).

Runs train.py with ``METAPROMPT_RUNTIME=dassl`` in subprocesses (the runtime is chosen at import
time) and checks it against the built-in runtime bit for bit. See docs/dassl.md for installing
Dassl on a current stack.
"""
import importlib.util
import math
import os
import sys

import pytest
import torch

from runs import checkpoint, read_logs, run_script, snapshot, train_argv, training_lines

pytestmark = pytest.mark.skipif(importlib.util.find_spec("dassl") is None, reason="Dassl is not installed")


def env_for(runtime):
    return dict(os.environ, METAPROMPT_RUNTIME=runtime)


def test_coop_trains_and_evaluates_new_classes_in_dassl_exactly_like_builtin(synthetic_root, tmp_path):
    trained = {}
    for runtime in ("dassl", "builtin"):
        train = tmp_path / runtime / "train_base"
        proc = run_script(train_argv(synthetic_root, train, "DATASET.SUBSAMPLE_CLASSES", "base", epochs=2),
                          env=env_for(runtime))
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"Runtime: {runtime}" in read_logs(train)
        trained[runtime] = train
    d_train, b_train = trained["dassl"], trained["builtin"]
    assert torch.equal(checkpoint(d_train, 2)["state_dict"]["prompts.text_ctx"],
                       checkpoint(b_train, 2)["state_dict"]["prompts.text_ctx"])
    assert training_lines(read_logs(d_train)) == training_lines(read_logs(b_train))  # losses, lr, accuracy
    assert sorted(os.listdir(d_train / "prompt_learner")) == ["checkpoint", "model.pth.tar-2"]

    new = tmp_path / "dassl" / "test_new"
    proc = run_script(train_argv(synthetic_root, new, "DATASET.SUBSAMPLE_CLASSES", "new", epochs=2,
                                 extra=["--eval-only", "--model-dir", d_train, "--load-epoch", 2]),
                      env=env_for("dassl"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = read_logs(new)
    assert "Load " in log and "model.pth.tar-2" in log and "* accuracy:" in log

    # Dassl's own loader reads the project's checkpoints (weights-only safe).
    from dassl.utils import load_checkpoint

    assert load_checkpoint(str(d_train / "prompt_learner" / "model.pth.tar-2"))["epoch"] == 2


RESUME_DRIVER = """
import sys
from metaprompt.cli.train import main
from metaprompt.trainers.base import PromptTrainer

after_epoch = PromptTrainer.after_epoch

def crash_after_epoch_2(self):
    after_epoch(self)
    if self.epoch + 1 == 2:
        raise SystemExit(99)

PromptTrainer.after_epoch = crash_after_epoch_2
sys.exit(main(sys.argv[1:]))
"""


def test_resume_in_dassl_matches_an_uninterrupted_run(synthetic_root, tmp_path):
    import subprocess

    full, resumed = tmp_path / "full", tmp_path / "resumed"
    assert run_script(train_argv(synthetic_root, full, epochs=3), env=env_for("dassl")).returncode == 0
    argv = train_argv(synthetic_root, resumed, epochs=3)
    crashed = subprocess.run([sys.executable, "-c", RESUME_DRIVER, *map(str, argv)], env=env_for("dassl"),
                             capture_output=True, text=True, timeout=300)
    assert crashed.returncode == 99, crashed.stderr[-3000:]
    assert run_script(argv, env=env_for("dassl")).returncode == 0
    assert "Previous epoch: 2" in read_logs(resumed)
    assert torch.equal(checkpoint(resumed, 3)["state_dict"]["prompts.text_ctx"],
                       checkpoint(full, 3)["state_dict"]["prompts.text_ctx"])
    assert training_lines(read_logs(resumed)) == training_lines(read_logs(full))


def test_errors_in_dassl_are_one_message(synthetic_root, tmp_path):
    from metaprompt.datasets.synthetic import generate

    root = tmp_path / "data"
    generate(str(root / "synthetic"))
    os.remove(root / "synthetic" / "images" / "red_circle" / "000.png")  # Dassl's Datum asserts it exists
    proc = run_script(train_argv(root, tmp_path / "out"), env=env_for("dassl"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Image not found:" in proc.stderr and "red_circle/000.png" in proc.stderr

    model = tmp_path / "model" / "prompt_learner"
    model.mkdir(parents=True)
    (model / "model.pth.tar-1").write_bytes(b"PK\x03\x04 truncated")
    before = snapshot(model)
    proc = run_script(train_argv(synthetic_root, tmp_path / "eval", extra=["--eval-only", "--model-dir",
                                                                           model.parent, "--load-epoch", 1]),
                      env=env_for("dassl"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is corrupt" in proc.stderr and snapshot(model) == before


@pytest.mark.parametrize("opts", [
    dict(LR_SCHEDULER="cosine", MAX_EPOCH=6, WARMUP_EPOCH=1, WARMUP_TYPE="constant"),
    dict(LR_SCHEDULER="cosine", MAX_EPOCH=6, WARMUP_EPOCH=2, WARMUP_TYPE="linear"),
    dict(LR_SCHEDULER="cosine", MAX_EPOCH=6, WARMUP_EPOCH=2, WARMUP_TYPE="constant", WARMUP_RECOUNT=False),
    dict(LR_SCHEDULER="single_step", STEPSIZE=(2,), MAX_EPOCH=7, WARMUP_EPOCH=3, WARMUP_TYPE="linear",
         WARMUP_RECOUNT=False),
    dict(LR_SCHEDULER="multi_step", STEPSIZE=(2, 4), MAX_EPOCH=7, WARMUP_EPOCH=3, WARMUP_TYPE="constant",
         WARMUP_RECOUNT=False),
    dict(LR_SCHEDULER="cosine", MAX_EPOCH=5),
], ids=lambda o: "-".join(f"{v}" for v in o.values()))
def test_lr_sequence_equals_dassls_own_schedulers(monkeypatch, opts):
    from torch.optim.lr_scheduler import LRScheduler

    from dassl.config import get_cfg_default
    from dassl.optim import build_lr_scheduler as dassl_scheduler
    from metaprompt.runtime.optim import build_lr_scheduler

    # Dassl's warm-up wrappers pass `verbose`, which LRScheduler no longer accepts: drop it to run them.
    init = LRScheduler.__init__
    monkeypatch.setattr(LRScheduler, "__init__", lambda self, optimizer, last_epoch=-1, verbose=None:
                        init(self, optimizer, last_epoch))

    def sequence(build):
        cfg = get_cfg_default()
        cfg.OPTIM.LR = 0.002
        for key, value in opts.items():
            setattr(cfg.OPTIM, key, value)
        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([param], lr=cfg.OPTIM.LR)
        sched = build(opt, cfg.OPTIM)
        out = []
        for _ in range(cfg.OPTIM.MAX_EPOCH):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    ours, theirs = sequence(build_lr_scheduler), sequence(dassl_scheduler)
    assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(ours, theirs)), (ours, theirs)
