import os
import sys

import pytest

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
