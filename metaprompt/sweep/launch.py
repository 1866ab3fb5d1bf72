"""Running a sweep's jobs: one after another (``local``) or on N slots at once (``gpus``).

Both keep the same books (:class:`Ledger`): a job starts only when every job it needs has
succeeded; a job whose dependency failed is not started and is reported with it; a live count
``done / running / failed / pending`` is printed whenever it changes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime

from metaprompt.sweep.plan import Job


@dataclass
class Failure:
    job: Job
    reason: str  # "status 2", or "not run: 'X' failed"
    log: str  # where to read what happened


@dataclass
class Ledger:
    """Which jobs are pending, running, done or failed, and the count line that shows it."""

    jobs: list[Job]
    already_done: int = 0  # jobs the probe found finished (counted as done)
    out: object = sys.stdout
    done: set = field(default_factory=set)
    running: dict = field(default_factory=dict)  # name -> what runs it (a Popen, a Slurm job)
    failures: list[Failure] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)  # name -> wall time of the job (local, gpus)
    _last: str = ""

    @property
    def failed(self) -> set:
        return {f.job.name for f in self.failures}

    def pending(self) -> list[Job]:
        return [j for j in self.jobs if j.name not in self.done and j.name not in self.failed
                and j.name not in self.running]

    def ready(self) -> list[Job]:
        return [j for j in self.pending() if all(a in self.done for a in j.after)]

    def block_dependents(self) -> None:
        """Jobs that need a failed job will never run: record them as failed, with the reason."""
        changed = True
        while changed:
            changed = False
            for job in self.pending():
                bad = [a for a in job.after if a in self.failed]
                if bad:
                    self.failures.append(Failure(job, f"not run: '{bad[0]}' failed", ""))
                    changed = True

    def show(self, force: bool = False) -> None:
        line = (f"sweep: {len(self.done) + self.already_done} done / {len(self.running)} running / "
                f"{len(self.failures)} failed / {len(self.pending())} pending")
        if force or line != self._last:
            print(line, file=self.out, flush=True)
            self._last = line


def job_log(log_dir: str, job: Job) -> str:
    return os.path.join(log_dir, f"{job.slug}.log")


def newest_log(run_dir: str) -> str:
    from metaprompt.results.logparse import read_run

    return read_run(run_dir).log or run_dir


def run_local(ledger: Ledger, env: dict, cwd: str, keep_going: bool) -> int | None:
    """Today's sweep: each job in order, its output on this terminal. Returns the status to stop
    with when a job failed and ``keep_going`` is off, else None."""
    for job in list(ledger.jobs):
        ledger.block_dependents()
        if job.name in ledger.failed:
            continue
        ledger.running[job.name] = None
        ledger.show()
        start = time.monotonic()
        status = subprocess.run(job.argv, env=env, cwd=cwd).returncode
        ledger.seconds[job.name] = time.monotonic() - start
        del ledger.running[job.name]
        if status == 0:
            ledger.done.add(job.name)
            continue
        ledger.failures.append(Failure(job, f"status {status}", newest_log(job.run_dir)))
        if not keep_going:
            print(f"error: '{job.name}' failed (status {status}). Re-run the sweep to continue; "
                  "finished runs are skipped.", file=sys.stderr)
            return status
    ledger.block_dependents()
    ledger.show()
    return None


def run_slots(ledger: Ledger, env: dict, cwd: str, slots: list[str], log_dir: str, keep_going: bool,
              poll: float = 0.2) -> None:
    """Jobs on ``len(slots)`` slots at once, slot i with CUDA_VISIBLE_DEVICES=slots[i]. A slot takes
    the next ready job as soon as its job ends (no waves). Each job's output goes to its log in
    ``log_dir`` (appended, with a header, so a re-run keeps the earlier attempt's output)."""
    os.makedirs(log_dir, exist_ok=True)
    free = list(range(len(slots)))
    procs: dict[str, tuple[subprocess.Popen, int, object]] = {}
    started: dict[str, float] = {}
    stop = False
    try:
        while True:
            ledger.block_dependents()
            if not stop:
                for job in ledger.ready():
                    if not free:
                        break
                    slot = free.pop(0)
                    log = open(job_log(log_dir, job), "a", encoding="utf-8")
                    log.write(f"==== {datetime.now():%Y-%m-%d %H:%M:%S} slot {slot} "
                              f"CUDA_VISIBLE_DEVICES={slots[slot]!r}: {' '.join(job.argv)}\n")
                    log.flush()
                    proc = subprocess.Popen(job.argv, env={**env, "CUDA_VISIBLE_DEVICES": slots[slot]}, cwd=cwd,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                    procs[job.name] = (proc, slot, log)
                    started[job.name] = time.monotonic()
                    ledger.running[job.name] = proc
            ledger.show()
            if not procs:
                return
            time.sleep(poll)
            for name, (proc, slot, log) in list(procs.items()):
                status = proc.poll()
                if status is None:
                    continue
                log.close()
                ledger.seconds[name] = time.monotonic() - started[name]
                del procs[name], ledger.running[name]
                free.append(slot)
                free.sort()
                job = next(j for j in ledger.jobs if j.name == name)
                if status == 0:
                    ledger.done.add(name)
                else:
                    ledger.failures.append(Failure(job, f"status {status}", job_log(log_dir, job)))
                    stop = stop or not keep_going
    finally:  # interrupted (Ctrl-C, SIGTERM): end the jobs this launcher started
        for proc, _, log in procs.values():
            proc.terminate()
        for proc, _, log in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
