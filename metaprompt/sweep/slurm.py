"""The ``slurm`` launcher: a sweep's jobs as Slurm job arrays, submitted through submitit.

Jobs whose dependencies are all finished go in one array; the others are grouped by the Slurm
jobs they need and each group is an array with ``--dependency=afterok:<those jobs>`` (base-to-new:
each evaluation waits for its own training run; xd/dg: a seed's evaluations wait for its training).
A failed job's dependents are cancelled here too, so a cluster without ``kill_invalid_depend``
does not keep them queued forever. Slurm's logs (submitit's ``<job>_<task>_log.out/.err``) stay
under the sweep's log folder in the output tree.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from metaprompt.sweep.launch import Failure, Ledger
from metaprompt.sweep.plan import Job, SweepError

RUNNING = ("RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "STAGE_OUT")
WAITING = ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "UNKNOWN")


@dataclass
class Resources:
    """Per-job resources (sbatch flags); None leaves the cluster's default."""

    partition: str | None = None
    gpus: int | None = None  # --gpus-per-node
    cpus: int | None = None  # --cpus-per-task
    mem_gb: int | None = None  # --mem
    time_min: int = 240  # --time
    max_parallel: int = 256  # %N of --array


def _executor(folder: str, res: Resources):
    try:
        import submitit
    except ImportError:
        raise SweepError("the slurm launcher needs submitit: pip install -e '.[slurm]'") from None
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=0)
    params = dict(job_name="metaprompt-sweep", time=res.time_min, array_parallelism=res.max_parallel,
                  partition=res.partition, gpus_per_node=res.gpus, cpus_per_task=res.cpus,
                  mem=f"{res.mem_gb}GB" if res.mem_gb else None)
    executor.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return executor


def submit(jobs: list[Job], env: dict, cwd: str, folder: str, res: Resources) -> dict:
    """Submit every job; returns job name -> submitit job.

    A job runs its script through submitit's CommandFunction (the job imports submitit only, not
    this project), with the sweep's own variables set by ``env`` in front of the command: the rest
    of its environment is the node's, so Slurm's CUDA_VISIBLE_DEVICES is kept. A failing script
    makes the job FAILED, so its ``afterok`` dependents do not start."""
    from submitit.helpers import CommandFunction

    executor = _executor(folder, res)
    assign = [f"{k}={v}" for k, v in sorted(env.items()) if os.environ.get(k) != v]
    submitted: dict = {}
    remaining = list(jobs)
    while remaining:
        layer = [j for j in remaining if all(a in submitted for a in j.after)]
        if not layer:
            raise SweepError(f"cyclic or unknown dependencies: {[j.name for j in remaining]}")
        groups: dict[tuple, list[Job]] = {}
        for job in layer:
            groups.setdefault(tuple(submitted[a].job_id for a in job.after), []).append(job)
        for needs, group in groups.items():
            executor.update_parameters(dependency="afterok:" + ":".join(needs) if needs else None)
            handles = executor.submit_array([CommandFunction(["env", *assign, *j.argv], cwd=cwd) for j in group])
            submitted.update({j.name: h for j, h in zip(group, handles)})
        remaining = [j for j in remaining if j.name not in submitted]
    return submitted


def watch(ledger: Ledger, submitted: dict, poll: float) -> None:
    """Follow the submitted jobs until each has ended, keeping the ledger's counts."""
    by_name = {j.name: j for j in ledger.jobs}
    while True:
        active = [n for n in submitted if n not in ledger.done and n not in ledger.failed]
        if not active:
            break
        submitted[active[0]].watcher.update()  # one sacct call for every job of this sweep
        for name in active:
            if name in ledger.failed:  # blocked by a failure seen earlier in this pass
                continue
            handle = submitted[name]
            state = handle.watcher.get_state(handle.job_id, mode="cache").split()[0]
            ledger.running.pop(name, None)
            if state == "COMPLETED":
                ledger.done.add(name)
            elif state in RUNNING:
                ledger.running[name] = handle
            elif state not in WAITING:  # FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...
                ledger.failures.append(Failure(by_name[name], f"Slurm job {handle.job_id} {state}",
                                               str(handle.paths.stderr)))
                before = ledger.failed
                ledger.block_dependents()
                for blocked in ledger.failed - before:
                    submitted[blocked].cancel(check=False)
                    ledger.running.pop(blocked, None)
        ledger.show()
        time.sleep(poll)
    ledger.show()


def run_slurm(ledger: Ledger, env: dict, cwd: str, folder: str, res: Resources, poll: float = 10.0) -> None:
    if not ledger.jobs:  # everything finished before: nothing to submit
        return
    os.makedirs(folder, exist_ok=True)
    submitted = submit(ledger.jobs, env, cwd, folder, res)
    ids = sorted({h.job_id.split("_")[0] for h in submitted.values()}, key=int)
    print(f"sweep: submitted {len(submitted)} job(s) as Slurm job(s) {', '.join(ids)}; logs in {folder}", flush=True)
    try:
        watch(ledger, submitted, poll)
    except KeyboardInterrupt:
        print("sweep: stopped watching; the Slurm jobs go on (scancel " + " ".join(ids) + " to stop them). "
              "Re-run the sweep later to collect the table.", flush=True)
        raise
