"""A sweep as a list of jobs: one job is one call of an existing per-run script (scripts/*.sh).

The run logic stays in the scripts; this module only says which calls a setting needs, in which
order, and which call needs which (an evaluation needs its training run). Whether a call still
has work to do is asked of the script itself (:func:`probe`), so the sweep and a script run by
hand always agree on what "finished" means.
"""
from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from metaprompt.errors import UserInputError
from metaprompt.results import catalog

SETTINGS = ("base2new", "xd", "dg", "fewshot")
SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts")


class SweepError(UserInputError):
    """A sweep that cannot start: bad arguments, unknown datasets, missing data (the script's words)."""


@dataclass(frozen=True)
class Job:
    """One script call. ``name`` is what a person would type after ``bash scripts/``."""

    name: str
    argv: tuple[str, ...]
    after: tuple[str, ...] = ()  # names of the jobs that must have succeeded first
    run_dir: str = ""  # the run folder the script writes (from the probe)
    said: str = ""  # the script's own line about it ("Skip training: DIR holds a finished run")

    @property
    def slug(self) -> str:
        """A file-name form of ``name`` (job logs)."""
        return re.sub(r"[^A-Za-z0-9_.+-]+", "-", self.name.replace(".sh", "")).strip("-")


@dataclass
class Sweep:
    setting: str
    jobs: list[Job]
    env: dict[str, str]  # what every job gets on top of the caller's environment
    cwd: str
    table_args: list[str] = field(default_factory=list)  # for metaprompt.results.tables
    finished: list[Job] = field(default_factory=list)  # jobs the probe found finished


def expand(setting: str, *, datasets=None, seeds=(1, 2, 3), shots_list=None, source=None, targets=None,
           overrides=()) -> list[Job]:
    """The jobs of a setting in today's sweep.sh order (datasets, then seeds; training before its tests)."""
    opts = tuple(overrides)

    def job(script: str, *args, after=()) -> Job:
        args = tuple(str(a) for a in args)
        return Job(" ".join((script, *args)), ("bash", os.path.join(SCRIPTS, script), *args, *opts), tuple(after))

    jobs: list[Job] = []
    if setting == "base2new":
        for d in datasets or catalog.BASE2NEW_DATASETS:
            for s in seeds:
                train = job("base2new_train.sh", d, s)
                jobs += [train, job("base2new_test.sh", d, s, after=[train.name])]
    elif setting == "fewshot":
        for d in datasets or catalog.FEWSHOT_DATASETS:
            for k in shots_list or catalog.FEWSHOT_SHOTS:
                jobs += [job("fewshot.sh", d, s, k) for s in seeds]
    elif setting in ("xd", "dg"):
        source = source or catalog.XD_SOURCE
        targets = targets or (catalog.XD_TARGETS if setting == "xd" else catalog.DG_TARGETS)
        for s in seeds:
            train = job("xd_train.sh", source, s)
            jobs += [train] + [job(f"{setting}_test.sh", t, s, after=[train.name]) for t in targets]
    else:
        raise SweepError(f"unknown setting '{setting}'; choose one of {', '.join(SETTINGS)}")
    return jobs


_SKIP = re.compile(r"^Skip \w+: (.*) holds a finished run of this config$", re.M)
_WOULD = re.compile(r"^Would run \w+: .* --output-dir (\S+).*$", re.M)


# ---- THE FINISHED-RUN CHECK ----------------------------------------------------------------
# The sweep's one call of the project's "is this run finished?" rule. It asks the job's own
# script (DRY_RUN=1), which applies the rule of scripts/_common.sh (finished / run_once /
# eval_once: the config-identity check of metaprompt.runtime.identity) and says "Skip ...: DIR holds
# a finished run of this config" or "Would run ... --output-dir DIR". A run of another config makes
# the script refuse with one line, which the sweep passes on. A change of that rule reaches the
# sweep with no change here.
def probe(job: Job, env: dict[str, str], cwd: str) -> tuple[bool, str, str]:
    """(finished?, run folder, the script's line) of ``job``; :class:`SweepError` with the script's
    message when it refuses."""
    out = subprocess.run(job.argv, env={**env, "DRY_RUN": "1"}, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        message = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"status {out.returncode}"
        raise SweepError(f"{job.name}: {message.removeprefix('error: ')}")
    skip, would = _SKIP.search(out.stdout), _WOULD.search(out.stdout)
    if skip:
        return True, skip.group(1), skip.group(0)
    if would:
        return False, would.group(1), would.group(0)
    raise SweepError(f"{job.name}: cannot read the script's dry run:\n{out.stdout}")
# ----------------------------------------------------------------------------------------------


def probe_all(jobs: list[Job], env: dict[str, str], cwd: str, workers: int = 4) -> tuple[list[Job], list[Job]]:
    """(jobs to run, jobs already finished), each with its run folder, in the given order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        states = list(pool.map(lambda j: probe(j, env, cwd), jobs))
    todo, done = [], []
    for job, (finished, run_dir, said) in zip(jobs, states):
        job = Job(job.name, job.argv, job.after, run_dir, said)
        (done if finished else todo).append(job)
    finished_names = {j.name for j in done}
    # A dependency that is already finished is no dependency any more.
    todo = [Job(j.name, j.argv, tuple(a for a in j.after if a not in finished_names), j.run_dir, j.said)
            for j in todo]
    return todo, done
