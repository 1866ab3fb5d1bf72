"""The README's two first commands stay true: the main job runs as written, CI runs the test command."""
from __future__ import annotations

import os
import re
import shlex
import subprocess


def readme_commands(repo: str) -> list[str]:
    text = open(os.path.join(repo, "README.md"), encoding="utf-8").read()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()][:2]


def test_ci_runs_the_readme_test_command(repo):
    _, test_command = readme_commands(repo)
    job = test_command.split("&&")[-1].strip()
    ci = open(os.path.join(repo, ".ci", "run")).read().splitlines()
    assert job in ci, f"README says {job!r}; .ci/run must run the same command"


def test_readme_main_job_runs_and_new_classes_stay_far_above_chance(repo, script_env, tmp_path):
    """The job part of the first command (after the install), as a new user runs it."""
    setup, _ = readme_commands(repo)
    job = shlex.split(setup.split("&&")[-1])
    assert job[:2] == ["bash", "scripts/base2new.sh"] and job[2] == "toy_shapes"
    out = subprocess.run(job, cwd=repo, env=script_env, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    base, new, hm = map(float, re.search(r"Base: ([\d.]+)  New: ([\d.]+)  HM: ([\d.]+)", out.stdout).groups())
    assert "toy world" in out.stdout and "ProMetaR" in out.stdout  # the default trainer, on the toy CLIP
    chance = 100 / 16  # toy_shapes has 16 new classes
    assert new > 4 * chance and base > 4 * chance, (base, new)
