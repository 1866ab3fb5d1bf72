"""Bad input, area *checkpoints and resume*: each row of the table is one case, how its input is
made, and the fragment the one ``error:`` line must hold; then the properties behind the rows
(nothing non-finite saved, resume never mixes epochs, a full disk loses no checkpoint)."""
import errno
import json
import os
import shutil

import pytest
import torch

import metaprompt.cli.train  # noqa: F401  (choose the runtime first)
from metaprompt.runtime import checkpoint as ckpt_mod
from metaprompt.runtime.checkpoint import CheckpointError, SafeCheckpointMixin, resume_epoch
from runs import assert_one_clear_error, run_main, snapshot, train_argv


def unrelated_init_weights(tmp_path, root, reference_run):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"backbone.fc.weight": torch.zeros(2, 2)}}, path)
    return train_argv(root, tmp_path / "out", "MODEL.INIT_WEIGHTS", path, epochs=1)


def non_finite_after_a_step(tmp_path, root, reference_run):
    return train_argv(root, tmp_path / "out", "OPTIM.LR", "1e38", "OPTIM.WARMUP_EPOCH", "0", epochs=1)


def prometar_lr_ratio_1e40(tmp_path, root, reference_run):
    argv = train_argv(root, tmp_path / "out", "TRAINER.PROMETAR.LR_RATIO", "1e40", "TRAINER.PROMETAR.BASE", "CoOp",
                      "TRAINER.PROMETAR.TEACHER_TEMPLATES", "('a photo of a {}.',)", epochs=1)
    argv[argv.index("CoOp")] = "ProMetaR"
    return argv


def interrupted_run_of_another_config(tmp_path, root, reference_run):
    """The reference run's checkpoints and config record, without its log (so: interrupted)."""
    out = tmp_path / "out"
    shutil.copytree(reference_run / "prompt_learner", out / "prompt_learner")
    shutil.copy(reference_run / "run_config.json", out / "run_config.json")
    return train_argv(root, out, "OPTIM.LR", "0.5")


def resume_from_a_run_of_another_config(tmp_path, root, reference_run):
    return train_argv(root, tmp_path / "out", "OPTIM.LR", "0.5", extra=["--resume", reference_run])


# case, how the input is made, the fragments of the one error line
CASES = [
    ("MODEL.INIT_WEIGHTS with unrelated keys", unrelated_init_weights,
     ["holds none of this prompt learner's tensors", "backbone.fc.weight", "prompts.text_ctx"]),
    ("OPTIM.LR 1e38: inf prompts after a step", non_finite_after_a_step,
     ["Epoch 1, batch 1, after the optimizer step", "prompts.text_ctx", "non-finite", "learning rate too high",
      "OPTIM.LR=1e+38"]),
    ("ProMetaR LR_RATIO 1e40: inf prompts after the meta step", prometar_lr_ratio_1e40,
     ["after the optimizer step", "prompt_learner tensor", "LR_RATIO=1e+40"]),
    ("resume an interrupted run of another config", interrupted_run_of_another_config,
     ["holds checkpoints of a run of another config", "OPTIM.LR: 0.01 -> 0.5", "Nothing was changed"]),
    ("--resume from a run of another config", resume_from_a_run_of_another_config,
     ["another config", "OPTIM.LR: 0.01 -> 0.5"]),
]


@pytest.mark.parametrize("case,make,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_checkpoint_input(capsys, one_thread, synthetic_root, reference_run, tmp_path, case, make, fragments):
    argv = make(tmp_path, synthetic_root, reference_run)
    out = tmp_path / "out"
    before = snapshot(out) if out.exists() else {}
    assert_one_clear_error(capsys, run_main(argv), *fragments)
    after = snapshot(out) if out.exists() else {}
    changed = {k for k in before if after.get(k) != before[k]}
    assert not changed, changed  # nothing already there is changed
    for name in after:  # and nothing non-finite was written
        if "model.pth.tar" in name:
            state = torch.load(out / name, weights_only=True)["state_dict"]
            assert all(torch.isfinite(t).all() for t in state.values()), name


def test_non_finite_weights_are_never_saved():
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(Exception, match=r"weight holds non-finite values \(1 NaN and 0 inf of 4 values\)"):
        ckpt_mod.save_checkpoint({"state_dict": model.state_dict(), "epoch": 1}, "/nonexistent-never-created")
    assert not os.path.exists("/nonexistent-never-created")


@pytest.mark.parametrize("failure,fragment", [
    (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
    (RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 320 vs 214"), "the disk is full"),
    (OSError(errno.EROFS, "Read-only file system"), "the folder is not writable"),
], ids=["ENOSPC", "torch zip writer", "read-only"])
def test_failed_checkpoint_write_is_one_line_and_keeps_earlier_checkpoints(capsys, monkeypatch, one_thread,
                                                                           synthetic_root, tmp_path, failure, fragment):
    real_save = torch.save
    saves = []

    def save_then_fail(obj, path, *a, **k):  # the first epoch saves; the second hits the failure
        saves.append(path)
        if len(saves) > 1:
            with open(path, "wb") as f:
                f.write(b"partial")
            raise failure
        real_save(obj, path, *a, **k)

    monkeypatch.setattr(ckpt_mod.torch, "save", save_then_fail)
    out = tmp_path / "out"
    rc = run_main(train_argv(synthetic_root, out, epochs=2))
    line = assert_one_clear_error(capsys, rc, "Could not write checkpoint", "model.pth.tar-2", fragment,
                                  "run the same command again to resume")
    assert sorted(os.listdir(out / "prompt_learner")) == ["checkpoint", "model.pth.tar-1"]  # no partial file
    assert (out / "log.txt").read_text().rstrip().endswith(line)  # the log ends with what ended the run


class TwoModels(SafeCheckpointMixin):
    """The checkpoint methods on two models, as ProMetaR's prompt learner and gate."""

    def __init__(self, seed: int) -> None:
        torch.manual_seed(seed)
        self._models = {"prompt_learner": torch.nn.Linear(3, 3), "prometar_gate": torch.nn.Linear(3, 1)}
        self._optims = {n: None for n in self._models}
        self._scheds = {n: None for n in self._models}

    def get_model_names(self):
        return list(self._models)


def test_resume_never_mixes_epochs(tmp_path, capsys):
    saved = {}
    for epoch in range(3):  # epochs 1..3 of both models, each with other weights
        trainer = TwoModels(seed=epoch)
        trainer.save_model(epoch, str(tmp_path))
        saved[epoch + 1] = {n: m.weight.clone() for n, m in trainer._models.items()}
    # Killed between the two saves of epoch 4: the prompts have epoch 4, the gate stops at 3.
    TwoModels(seed=9).save_model(3, str(tmp_path))
    os.remove(tmp_path / "prometar_gate" / "model.pth.tar-4")
    (tmp_path / "prometar_gate" / "checkpoint").write_text("model.pth.tar-3\n")
    resumed = TwoModels(seed=100)
    assert resumed.resume_model_if_exist(str(tmp_path)) == 3
    for name, model in resumed._models.items():
        assert torch.equal(model.weight, saved[3][name]), name
    assert "prompt_learner has epoch 4, but not every model does" in capsys.readouterr().out

    assert resume_epoch(str(tmp_path), ["prompt_learner", "missing"]) == (None, "")
    for n in (1, 2, 3):
        os.remove(tmp_path / "prometar_gate" / f"model.pth.tar-{n}")
    shutil.copy(tmp_path / "prompt_learner" / "checkpoint", tmp_path / "prometar_gate" / "model.pth.tar-5")
    with pytest.raises(CheckpointError, match=r"no epoch saved for every model \(prompt_learner: \[1, 2, 3, 4\], "
                                              r"prometar_gate: \[5\]\)"):
        resume_epoch(str(tmp_path), ["prompt_learner", "prometar_gate"])


def test_partial_init_weights_say_what_was_loaded(capsys, synthetic_root, reference_run, tmp_path):
    state = torch.load(reference_run / "prompt_learner" / "model.pth.tar-4", weights_only=True)
    path = tmp_path / "init.pth"
    torch.save({"state_dict": {**state["state_dict"], "extra.bias": torch.zeros(1)}}, path)
    argv = train_argv(synthetic_root, tmp_path / "out", "MODEL.INIT_WEIGHTS", path, epochs=1, extra=["--no-train"])
    assert run_main(argv) == 0
    assert "Loaded ['prompts.text_ctx'] from MODEL.INIT_WEIGHTS" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "run_config.json").read_text())["config"]["MODEL.INIT_WEIGHTS"] == str(path)
