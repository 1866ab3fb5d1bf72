import os
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("METAPROMPT_RUNTIME", "builtin")  # tests pin the built-in runtime

from runs import reference_run, synthetic_root  # noqa: E402,F401  (session fixtures, shared by all modules)


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
