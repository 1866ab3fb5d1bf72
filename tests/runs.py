"""Running train.py on the synthetic dataset with the tiny CLIP, in-process or as a subprocess."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYNTHETIC_YAML = os.path.join(REPO, "configs", "datasets", "synthetic.yaml")
COOP_SMOKE_YAML = os.path.join(REPO, "configs", "trainers", "CoOp", "smoke.yaml")


def train_argv(root, out, *opts, seed: int = 1, epochs: int = 4, extra=()) -> list[str]:
    """The CoOp smoke recipe on Synthetic, 4 shots (10 iterations per epoch)."""
    return ["--root", str(root), "--seed", str(seed), "--trainer", "CoOp",
            "--dataset-config-file", SYNTHETIC_YAML, "--config-file", COOP_SMOKE_YAML,
            "--output-dir", str(out), *map(str, extra),
            "DATASET.NUM_SHOTS", "4", "OPTIM.MAX_EPOCH", str(epochs), "TRAIN.PRINT_FREQ", "5", *map(str, opts)]


def run_main(argv: list[str]) -> int:
    from metaprompt.cli.train import main

    return main([str(a) for a in argv])


def run_script(argv: list[str], env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(REPO, "train.py"), *map(str, argv)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def assert_one_clear_error(capsys, rc, *needles) -> str:
    """Exit status 2, no traceback, exactly one ``error: ...`` line on stderr holding every needle."""
    out, err = capsys.readouterr()
    assert rc == 2, err[-2000:]
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def checkpoint(out, epoch: int) -> dict:
    path = os.path.join(str(out), "prompt_learner", f"model.pth.tar-{epoch}")
    return torch.load(path, map_location="cpu", weights_only=True)


def read_logs(out) -> str:
    from metaprompt.results.logparse import run_logs

    text = ""
    for log in run_logs(str(out)):
        with open(log, encoding="utf-8") as f:
            text += f.read()
    return text


def training_lines(log_text: str) -> list[str]:
    """The per-batch lines without their timings, and the evaluator's lines."""
    lines = []
    for line in log_text.splitlines():
        if line.startswith("epoch ["):
            lines.append(re.sub(r" time \S+ \(\S+\) data \S+ \(\S+\)| eta \S+", "", line))
        elif line.startswith("* "):
            lines.append(line)
    return lines


def snapshot(folder) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder``."""
    out = {}
    for dirpath, _, files in os.walk(str(folder)):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, str(folder))] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """One data root for the session: the synthetic dataset writes itself there on first use."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def reference_run(synthetic_root, tmp_path_factory):
    """An uninterrupted 4-epoch CoOp run, seed 1 (compared against by resume and determinism tests)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert run_main(train_argv(synthetic_root, out)) == 0
    return out
