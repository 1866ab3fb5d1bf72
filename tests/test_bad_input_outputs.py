"""Bad input, area *output folders*: each row of the table is one case, how it is set up and run, and
the fragments the one ``error:`` line must hold; then the recoveries (a stale lock is taken over,
FORCE=1 moves a run of another config aside) and the logs of failed runs."""
import errno
import json
import os
import shutil
import subprocess
import sys

import pytest

import metaprompt.cli.train  # noqa: F401  (choose the runtime first)
from metaprompt.cli.run_identity import main as run_identity_main
from metaprompt.runtime.lock import LOCK_FILE, OutputLock
from runs import REPO, assert_one_clear_error, run_main, snapshot, train_argv


def lock_of(out, pid, host=None):
    import socket

    os.makedirs(out, exist_ok=True)
    (out / LOCK_FILE).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "since": "earlier"}))


def locked_by_a_live_run(tmp_path, root, reference_run, monkeypatch):
    lock_of(tmp_path / "out", os.getppid())
    return run_main(train_argv(root, tmp_path / "out", epochs=1))


def locked_from_another_host(tmp_path, root, reference_run, monkeypatch):
    lock_of(tmp_path / "out", 1, host="another-node")
    return run_main(train_argv(root, tmp_path / "out", epochs=1))


def read_only_output_folder(tmp_path, root, reference_run, monkeypatch):
    def refuse(self):
        raise PermissionError(errno.EROFS, "Read-only file system", self.path)

    monkeypatch.setattr(OutputLock, "acquire", refuse)  # a read-only mount (tests may run as root)
    return run_main(train_argv(root, tmp_path / "out", epochs=1))


def finished_run_of_another_config(tmp_path, root, reference_run, monkeypatch):
    """What a sweep script asks before skipping: the reference run re-requested with OPTIM.LR 0.5."""
    return run_identity_main(train_argv(root, reference_run, "OPTIM.LR", "0.5"))


def evaluation_of_a_retrained_model(tmp_path, root, reference_run, monkeypatch):
    """An evaluation recorded for one model; the model folder now holds a run of another config."""
    model, out = tmp_path / "model", tmp_path / "eval"
    shutil.copytree(reference_run, model)
    argv = train_argv(root, out, extra=["--eval-only", "--model-dir", model, "--load-epoch", 4])
    assert run_main(argv) == 0
    record = json.loads((model / "run_config.json").read_text())
    record["config"]["OPTIM.LR"], record["sha256"] = 0.5, "retrained"
    (model / "run_config.json").write_text(json.dumps(record))
    return run_identity_main(argv)


def unreadable_config_record(tmp_path, root, reference_run, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(reference_run, out)
    (out / "run_config.json").write_text("{not json")
    return run_identity_main(train_argv(root, out))


# case, how it is set up and run, the fragments of the one error line
CASES = [
    ("second run into a locked folder", locked_by_a_live_run, ["is in use by another run", f"pid {os.getppid()}"]),
    ("lock from another host", locked_from_another_host, ["another-node", "cannot be checked", "delete", LOCK_FILE]),
    ("read-only output folder", read_only_output_folder, ["Cannot write to the output folder", "Read-only file system",
                                                          "writable --output-dir"]),
    ("finished run of another config (stale results)", finished_run_of_another_config,
     ["holds a finished run of another config", "OPTIM.LR: 0.01 -> 0.5", "FORCE=1"]),
    ("evaluation of a model re-trained with another config", evaluation_of_a_retrained_model,
     ["EVAL.MODEL_CONFIG_SHA256", "-> 'retrained'"]),
    ("unreadable run_config.json", unreadable_config_record, ["run_config.json is unreadable", "cannot be checked"]),
]


@pytest.mark.parametrize("case,make,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_output_folder(capsys, monkeypatch, synthetic_root, reference_run, tmp_path, case, make, fragments):
    before = snapshot(reference_run)
    assert_one_clear_error(capsys, make(tmp_path, synthetic_root, reference_run, monkeypatch), *fragments)
    assert snapshot(reference_run) == before
    if (tmp_path / "out" / LOCK_FILE).exists():  # someone else's lock is left as it was
        assert "earlier" in (tmp_path / "out" / LOCK_FILE).read_text()


def test_stale_lock_of_a_dead_process_is_taken_over(capsys, synthetic_root, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_of(tmp_path / "out", dead.pid)
    assert run_main(train_argv(synthetic_root, tmp_path / "out", epochs=1, extra=["--no-train"])) == 0
    assert f"taking over the stale lock of process {dead.pid}" in capsys.readouterr().out
    assert not (tmp_path / "out" / LOCK_FILE).exists()  # released at the end


def test_identity_check_skips_only_a_finished_run_of_the_same_config(capsys, synthetic_root, reference_run,
                                                                     tmp_path):
    assert run_identity_main(train_argv(synthetic_root, reference_run)) == 0  # same config: skip
    assert run_identity_main(train_argv(synthetic_root, tmp_path / "new")) == 1  # nothing there: run
    legacy = tmp_path / "legacy"
    shutil.copytree(reference_run, legacy)
    os.remove(legacy / "run_config.json")
    assert run_identity_main(train_argv(synthetic_root, legacy)) == 0  # recorded before identities: skip, say so
    assert "config was not recorded" in capsys.readouterr().err
    # FORCE=1 (--replace): the differing run is moved aside, kept whole, and the run goes ahead.
    (legacy / "run_config.json").write_text((reference_run / "run_config.json").read_text())
    before = snapshot(legacy)
    assert run_identity_main(["--replace", *train_argv(synthetic_root, legacy, "OPTIM.LR", "0.5")]) == 1
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("legacy.replaced-")]
    assert len(moved) == 1 and snapshot(moved[0]) == before and not legacy.exists()
    assert "OPTIM.LR: 0.01 -> 0.5" in capsys.readouterr().err


def test_a_key_added_after_the_run_was_recorded_differs_only_off_its_default(capsys, synthetic_root,
                                                                              reference_run, tmp_path):
    """An upgrade that adds config keys keeps finished runs valid while the new keys sit at their
    defaults; setting one does make a difference."""
    import json

    older = tmp_path / "older"
    shutil.copytree(reference_run, older)
    record = json.loads((older / "run_config.json").read_text())
    added = [k for k in record["config"] if k.startswith("TRAINER.PROMETAR.")]
    for key in added:  # as recorded by a version that did not know these keys
        del record["config"][key]
    del record["sha256"]
    (older / "run_config.json").write_text(json.dumps(record))
    assert run_identity_main(train_argv(synthetic_root, older)) == 0
    assert run_identity_main(train_argv(synthetic_root, older, "TRAINER.PROMETAR.LR_RATIO", "0.5")) == 2
    assert "TRAINER.PROMETAR.LR_RATIO: (absent) -> 0.5" in capsys.readouterr().err


def test_sweep_scripts_skip_only_the_same_config(script_env, synthetic_root, reference_run, tmp_path):
    """run_once, as every sweep script calls it: the reference run's own command is skipped; with
    another override it stops with the differing key instead of reporting the old numbers."""
    out = tmp_path / "run"
    shutil.copytree(reference_run, out)
    argv = train_argv(synthetic_root, out)
    opts = argv[argv.index("DATASET.NUM_SHOTS"):]
    common = (f'source {REPO}/scripts/_common.sh; DATA={synthetic_root} SEED=1 TRAINER=CoOp '
              f'DATASET_CFG={argv[argv.index("--dataset-config-file") + 1]} '
              f'TRAINER_CFG={argv[argv.index("--config-file") + 1]}; run_once training {out} ')

    def bash(*extra, **env):
        return subprocess.run(["bash", "-c", "set -euo pipefail; " + common + " ".join([*opts, *extra])],
                              env={**script_env, **env}, capture_output=True, text=True, timeout=300)

    same = bash()
    assert same.returncode == 0 and "Skip training" in same.stdout and "of this config" in same.stdout, same.stderr
    before = snapshot(out)
    other = bash("OPTIM.MAX_EPOCH", "1")
    assert other.returncode == 2 and "Skip" not in other.stdout and snapshot(out) == before
    assert other.stderr.count("error: ") == 1 and "OPTIM.MAX_EPOCH: 4 -> 1" in other.stderr
    assert "FORCE=1" in other.stderr
    forced = bash("OPTIM.MAX_EPOCH", "1", FORCE="1")  # the old run is kept aside, the new one runs
    assert forced.returncode == 0, forced.stderr[-2000:]
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("run.replaced-")]
    assert len(moved) == 1 and snapshot(moved[0]) == before
    assert json.loads((out / "run_config.json").read_text())["config"]["OPTIM.MAX_EPOCH"] == 1


def test_a_failed_run_log_ends_with_the_error(monkeypatch, synthetic_root, tmp_path):
    import metaprompt.runtime

    def bug(cfg):
        raise ZeroDivisionError("a bug in a trainer")

    monkeypatch.setattr(metaprompt.runtime, "build_trainer", bug)
    with pytest.raises(ZeroDivisionError):
        run_main(train_argv(synthetic_root, tmp_path / "out", epochs=1))
    log = (tmp_path / "out" / "log.txt").read_text().rstrip()
    assert log.endswith("ZeroDivisionError: a bug in a trainer") and "Traceback" in log
    assert not (tmp_path / "out" / LOCK_FILE).exists()
