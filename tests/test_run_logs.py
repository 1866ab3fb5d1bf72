"""When a run counts as finished: a *test* result in any of its logs (resumed runs have several)."""
import os
import subprocess

import pytest

from metaprompt.results.logparse import read_run
from runs import REPO

VAL = "Evaluate on the *val* set\n=> result\n* total: 40\n* correct: 10\n* accuracy: 25.0%\n* error: 75.0%\n"
TEST = "Evaluate on the *test* set\n=> result\n* total: 60\n* correct: 12\n* accuracy: 20.0%\n* error: 80.0%\n"
HEADER = "MODEL:\n  BACKBONE:\n    NAME: tiny-vit\n"


def write_logs(folder, *texts):
    os.makedirs(folder, exist_ok=True)
    names = ["log.txt", "log.txt-2030-01-02-03-04-05", "log.txt-2030-01-02-03-09-00"]
    for name, text in zip(names, texts):
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)


def shell_finished(folder):
    script = f'source "{REPO}/scripts/_common.sh"; finished "$1"'
    return subprocess.run(["bash", "-c", script, "_", str(folder)]).returncode == 0


@pytest.mark.parametrize("texts,accuracy", [
    ((HEADER + "epoch [1/4] ...\n",), None),  # interrupted
    ((HEADER + VAL + VAL,), None),  # best_val run interrupted: val results are not test results
    ((HEADER + VAL, "Previous epoch: 2\n" + VAL + TEST), 20.0),  # resumed, result in the second log
    ((HEADER + VAL, "crashed again\n", TEST.replace("20.0", "21.5")), 21.5),
    ((HEADER + TEST,), 20.0),
    (("=> result\n* accuracy: 64.2%\n",), 64.2),  # a log without evaluation markers (other tools)
], ids=["interrupted", "val-only", "resumed", "resumed-twice", "finished", "unmarked"])
def test_finished_means_a_test_result_in_any_log(tmp_path, texts, accuracy):
    folder = tmp_path / "run"
    write_logs(folder, *texts)
    assert read_run(str(folder)).accuracy == accuracy
    if "Evaluate on the" in "".join(texts) or accuracy is None:  # the scripts only see this project's logs
        assert shell_finished(folder) == (accuracy is not None)


def test_no_folder_is_not_finished(tmp_path):
    assert read_run(str(tmp_path / "missing")).accuracy is None
    assert not shell_finished(tmp_path / "missing")
