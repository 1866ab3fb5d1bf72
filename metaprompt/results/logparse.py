"""Parse a run's logs: the test accuracy printed after the last ``=> result`` line.

Works on logs written by this project and by the CoOp-family releases (same evaluator lines:
``Evaluate on the *test* set``, ``=> result``, ``* total``, ``* correct``, ``* accuracy: XX.X%``).

A run folder can hold several logs: a re-run into the same folder (after a crash) writes a
time-stamped sibling ``log.txt-YYYY-MM-DD-HH-MM-SS``, as Dassl does. The run's result is the
newest log that reports one. A result block that follows ``Evaluate on the *val* set`` is a
per-epoch validation, not the final test, so a run that stopped after one is unfinished.

This file imports only the standard library and runs as a script, so shell scripts can ask
"is this run finished?" without importing torch (``python logparse.py finished DIR``).
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

_ACC = re.compile(r"^\* accuracy: ([0-9.]+)%", re.M)
_EVAL_SPLIT = re.compile(r"^Evaluate on the \*(\w+)\* set", re.M)
_BACKBONE = re.compile(r"^\s*NAME: (\S+)", re.M)
_GRAM_ARTEFACT = re.compile(r"^GRAM artefact: (.+) \(fingerprint (\w+)", re.M)
_BASE_LEARNER = re.compile(r"^(?:ProMetaR|GRAM) wraps (\w+)", re.M)  # a meta method's wrapped learner
LOG_NAME = "log.txt"


@dataclass
class RunResult:
    path: str
    accuracy: float | None  # None: the run has no test result (unfinished or crashed)
    backbone: str | None = None
    log: str | None = None  # the log the result came from (or the newest log when unfinished)
    gram_artefact: str | None = None  # "PATH (fingerprint FP)": the GRAM artefact the run used
    base_learner: str | None = None  # the learner a meta method wraps (ProMetaR's or GRAM's BASE)

    @property
    def finished(self) -> bool:
        return self.accuracy is not None

    @property
    def started(self) -> bool:
        return self.log is not None


def parse_log(text: str) -> float | None:
    """Test accuracy (percent) of the last evaluation after ``=> result``; ``None`` if there is none."""
    start = text.rfind("=> result")
    if start < 0:
        return None
    splits = _EVAL_SPLIT.findall(text, 0, start)
    if splits and splits[-1] != "test":
        return None  # the last evaluation was a validation pass: the final test never ran
    match = _ACC.search(text, start)
    return float(match.group(1)) if match else None


def run_logs(run_dir: str) -> list[str]:
    """The run's logs, oldest first: ``log.txt`` then its time-stamped siblings (their names sort by time)."""
    if not os.path.isdir(run_dir):
        return []
    names = [n for n in os.listdir(run_dir) if n == LOG_NAME or n.startswith(LOG_NAME + "-")]
    names.sort(key=lambda n: (n != LOG_NAME, n))
    return [os.path.join(run_dir, n) for n in names if os.path.isfile(os.path.join(run_dir, n))]


def _backbone(text: str) -> str | None:
    block = text.find("BACKBONE:")
    if block < 0:
        return None
    m = _BACKBONE.search(text, block)
    return m.group(1).strip("'\"") if m else None


def _gram_artefact(text: str) -> str | None:
    found = _GRAM_ARTEFACT.findall(text)
    return f"{found[-1][0]} (fingerprint {found[-1][1]})" if found else None


def _base_learner(text: str) -> str | None:
    found = _BASE_LEARNER.findall(text)
    return found[-1] if found else None


def read_run(run_dir: str) -> RunResult:
    logs = run_logs(run_dir)
    if not logs:
        return RunResult(run_dir, None)
    newest = None
    for log in reversed(logs):
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        accuracy = parse_log(text)
        if newest is None:
            newest = RunResult(run_dir, None, _backbone(text), log, _gram_artefact(text), _base_learner(text))
        if accuracy is not None:
            return RunResult(run_dir, accuracy, _backbone(text), log, _gram_artefact(text), _base_learner(text))
    return newest


def harmonic_mean(base: float, new: float) -> float:
    return 2 * base * new / (base + new) if base + new > 0 else 0.0


# OpenAI's released CLIP models (metaprompt.clip.loading.OPENAI_FILES's keys; a test keeps them equal).
OPENAI_MODELS = ("RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B/32", "ViT-B/16", "ViT-L/14",
                 "ViT-L/14@336px")


def backbone_note(backbone: str | None) -> str | None:
    """What a result on ``backbone`` is evidence of, when it is not a pretrained OpenAI CLIP."""
    if backbone in OPENAI_MODELS:
        return None
    if backbone in ("toy-vit", "toy-vit-l12"):
        return (f"backbone {backbone!r} is the toy world's CLIP (pretrained on rendered scenes, docs/toyworld.md): "
                "compare methods with each other here, not with published numbers")
    return (f"backbone {backbone!r} is not a pretrained OpenAI CLIP: a smoke run of the pipeline, "
            "not a benchmark result")


def print_base2new(train_dir: str, test_dir: str) -> int:
    base, new = read_run(train_dir), read_run(test_dir)
    for run in (base, new):
        if not run.finished:
            print(f"error: no test result in the logs of {run.path} (the run did not finish)", file=sys.stderr)
            return 1
    print(f"Base: {base.accuracy:.2f}  New: {new.accuracy:.2f}  HM: {harmonic_mean(base.accuracy, new.accuracy):.2f}")
    if base.gram_artefact:
        print(f"GRAM artefact: {base.gram_artefact}")
    note = backbone_note(base.backbone)
    if note:
        print(f"NOTE: {note}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``logparse.py finished DIR``: exit 0 when DIR holds a finished run, 1 otherwise.
    ``logparse.py accuracy DIR``: print the run's test accuracy (exit 1 when unfinished).
    ``logparse.py base2new TRAIN_DIR TEST_DIR``: print Base / New / HM of a base-to-new run."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 3 and argv[0] == "base2new":
        return print_base2new(argv[1], argv[2])
    if len(argv) != 2 or argv[0] not in ("finished", "accuracy"):
        print("usage: logparse.py {finished|accuracy} RUN_DIR | logparse.py base2new TRAIN_DIR TEST_DIR",
              file=sys.stderr)
        return 2
    run = read_run(argv[1])
    if argv[0] == "accuracy" and run.finished:
        print(f"{run.accuracy:.2f}")
    return 0 if run.finished else 1


if __name__ == "__main__":
    sys.exit(main())
