import os
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("METAPROMPT_RUNTIME", "builtin")  # tests pin the built-in runtime

from runs import reference_run, synthetic_root  # noqa: E402,F401  (session fixtures, shared by all modules)


# The toy CLIP's full pretraining (test_toy_clip_regeneration.py, about eight minutes on one core)
# is started in the background when the session begins and awaited by that test near the end:
# it is single-threaded, so it takes the second core while the rest of the suite runs.
BACKGROUND: dict = {}


def pytest_collection_modifyitems(session, config, items):
    if any("test_toy_clip_regeneration.py" in item.nodeid for item in items) and "pretrain" not in BACKGROUND:
        import subprocess
        import tempfile

        folder = tempfile.mkdtemp(prefix="toy_clip_regen_")
        logs = [open(os.path.join(folder, name), "w+") for name in ("stdout.txt", "stderr.txt")]  # no pipe to fill
        BACKGROUND["pretrain"] = (os.path.join(folder, "toy_clip.pt"), logs, subprocess.Popen(
            [sys.executable, "-m", "metaprompt.toyworld.pretrain", "--out", os.path.join(folder, "toy_clip.pt")],
            stdout=logs[0], stderr=logs[1]))


def pytest_unconfigure(config):
    import shutil

    for path, logs, proc in BACKGROUND.values():
        if proc.poll() is None:  # the session ended before its test awaited it (e.g. -x)
            proc.kill()
            proc.wait()
        for f in logs:
            f.close()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


@pytest.fixture
def repo() -> str:
    return REPO


@pytest.fixture
def script_env(tmp_path):
    """Environment for running the shell scripts in isolation (own output and data cache)."""
    env = dict(os.environ)
    env["OUTPUT"] = str(tmp_path / "output")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["PYTHON"] = sys.executable
    env.pop("DATA", None)
    return env


@pytest.fixture
def one_thread():
    """One intra-op thread: ProMetaR's step is many small ops, and on a shared 2-core machine two
    spinning threads per process made it 20x slower. The caller's thread count is restored, since
    later tests compare runs bit for bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
