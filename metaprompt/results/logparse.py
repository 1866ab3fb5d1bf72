"""Parse a run's logs: the accuracy printed after the last ``=> result`` line.

Works on logs written by this project and by the CoOp-family releases (same evaluator lines).
A run that was resumed has several logs: Dassl's logger never appends to an existing
``log.txt`` but starts ``log.txt-<YYYY-mm-dd-HH-MM-SS>`` next to it; they are read in that order.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

_ACC = re.compile(r"^\* accuracy: ([0-9.]+)%", re.M)
_BACKBONE = re.compile(r"^\s*NAME: (\S+)", re.M)


@dataclass
class RunResult:
    path: str
    accuracy: float | None  # None: the run has no test result (unfinished or crashed)
    backbone: str | None = None

    @property
    def finished(self) -> bool:
        return self.accuracy is not None


_TEST_MARKER = "Evaluate on the *test* set"  # printed by Dassl's test() and the built-in one


def parse_log(text: str) -> float | None:
    """Test accuracy (percent) of the last test evaluation; ``None`` if there is none.

    Per-epoch validation (``TEST.FINAL_MODEL best_val``) prints the same ``=> result`` block
    after ``Evaluate on the *val* set``; those are not test results. Logs without these
    markers (other tools) count their last ``=> result``.
    """
    start = text.rfind(_TEST_MARKER)
    if start < 0:
        if "Evaluate on the *" in text:
            return None  # only validation results so far
        start = 0
    start = text.rfind("=> result", start)
    if start < 0:
        return None
    match = _ACC.search(text, start)
    return float(match.group(1)) if match else None


def run_logs(run_dir: str) -> list[str]:
    """``log.txt`` and its time-stamped siblings, oldest first."""
    if not os.path.isdir(run_dir):
        return []
    names = [n for n in os.listdir(run_dir) if n == "log.txt" or n.startswith("log.txt-")]
    return [os.path.join(run_dir, n) for n in sorted(names)]


def read_run(run_dir: str) -> RunResult:
    logs = run_logs(run_dir)
    if not logs:
        return RunResult(run_dir, None)
    text = ""
    for log in logs:
        with open(log, encoding="utf-8", errors="replace") as f:
            text += f.read()
    backbone = None
    block = text.find("BACKBONE:")
    if block >= 0:
        m = _BACKBONE.search(text, block)
        backbone = m.group(1).strip("'\"") if m else None
    return RunResult(run_dir, parse_log(text), backbone)


def harmonic_mean(base: float, new: float) -> float:
    return 2 * base * new / (base + new) if base + new > 0 else 0.0
