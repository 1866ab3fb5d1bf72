"""``metaprompt-sweep [options] SETTING [KEY VALUE ...]``: run a whole setting, then print its table.

``scripts/sweep.sh`` forwards here (its environment variables become these options). Exit status:
0 when every job finished, 1 when some failed (they are listed with their logs), the failed
job's status when ``local`` stops at it, 2 for bad input (one line saying what to do).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

from metaprompt.results import catalog
from metaprompt.sweep.launch import Ledger, run_local, run_slots
from metaprompt.sweep.plan import SCRIPTS, SETTINGS, Sweep, SweepError, expand, probe_all

LAUNCHERS = ("local", "gpus", "slurm")


def words(text: str) -> list[str]:
    """A list option's value: names separated by commas or spaces (``1,2,3`` or ``"1 2 3"``). One
    argument each, so a list option never swallows the SETTING or the overrides after it."""
    items = [w for w in re.split(r"[,\s]+", text) if w]
    if not items:
        raise argparse.ArgumentTypeError("empty list")
    return items


def numbers(text: str) -> list[int]:
    items = words(text)
    if not all(w.isdigit() for w in items):
        raise argparse.ArgumentTypeError(f"not a list of non-negative integers: '{text}'")
    return [int(w) for w in items]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="metaprompt-sweep", description=(
        "Run a setting's per-run scripts over datasets x seeds (training before its evaluations), "
        "skipping finished runs, then print the results table."))
    p.add_argument("setting", choices=SETTINGS)
    p.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides, passed to every run")
    g = p.add_argument_group("what to run (default: the protocol's)")
    g.add_argument("--datasets", type=words, help="base2new, fewshot: datasets, e.g. dtd,eurosat (default: the 11)")
    g.add_argument("--seeds", type=numbers, default=list(catalog.PROTOCOL_SEEDS), help="e.g. 1,2,3 (the default)")
    g.add_argument("--shots-list", type=numbers, help="fewshot: shot counts (default: 1,2,4,8,16)")
    g.add_argument("--source", help=f"xd, dg: training dataset (default: {catalog.XD_SOURCE})")
    g.add_argument("--targets", type=words, help="xd, dg: evaluation datasets (default: the setting's)")
    g.add_argument("--trainer", help="TRAINER of the scripts (default: theirs)")
    g.add_argument("--cfg", help="CFG of the scripts (default: the trainer's recipe per dataset)")
    g.add_argument("--data", help="DATA of the scripts")
    g.add_argument("--output", default=os.environ.get("OUTPUT", "output"),
                   help="OUTPUT of the scripts (default: $OUTPUT, else output)")
    g = p.add_argument_group("how to run it")
    g.add_argument("--launcher", choices=LAUNCHERS, default="local",
                   help="local: one job after another; gpus: N slots at once; slurm: job arrays")
    g.add_argument("--keep-going", action="store_true",
                   help="local, gpus: start further jobs after a failure (slurm always does)")
    g.add_argument("--gpus", help="gpus: one slot per listed GPU, e.g. 0,1,2,3 (its CUDA_VISIBLE_DEVICES; "
                   "list a GPU twice for two jobs on it)")
    g.add_argument("--cpu-workers", type=int, help="gpus: N CPU slots instead (CUDA_VISIBLE_DEVICES empty)")
    g.add_argument("--partition", help="slurm: partition")
    g.add_argument("--gpus-per-job", type=int, help="slurm: GPUs per job (--gpus-per-node)")
    g.add_argument("--cpus-per-job", type=int, help="slurm: CPUs per job (--cpus-per-task)")
    g.add_argument("--mem-gb", type=int, help="slurm: memory per job in GB (--mem)")
    g.add_argument("--time-min", type=int, default=240, help="slurm: time limit per job, minutes (default 240)")
    g.add_argument("--max-parallel", type=int, default=256, help="slurm: most array tasks running at once")
    g.add_argument("--poll", type=float, default=10.0, help="slurm: seconds between status checks")
    return p


def slots_from(args) -> list[str]:
    if args.launcher != "gpus":
        if args.gpus is not None or args.cpu_workers is not None:
            raise SweepError(f"--gpus and --cpu-workers are for --launcher gpus, not {args.launcher}")
        return []
    if (args.gpus is None) == (args.cpu_workers is None):
        raise SweepError("--launcher gpus needs --gpus 0,1,... or --cpu-workers N, one of the two")
    if args.cpu_workers is not None:
        if args.cpu_workers < 1:
            raise SweepError(f"--cpu-workers must be at least 1, got {args.cpu_workers}")
        return [""] * args.cpu_workers
    slots = args.gpus.split(",")
    if not all(s.strip().isdigit() for s in slots):
        raise SweepError(f"--gpus takes GPU numbers separated by commas (e.g. 0,1,2,3), got '{args.gpus}'")
    return [s.strip() for s in slots]


def script_default(name: str, env: dict) -> str:
    """A variable as the scripts resolve it (scripts/_common.sh), e.g. TRAINER."""
    out = subprocess.run(["bash", "-c", f'source "{SCRIPTS}/_common.sh"; echo "${name}"'], env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def plan(args) -> Sweep:
    if len(args.opts) % 2:
        raise SweepError(f"config overrides come in KEY VALUE pairs, got an odd number: {' '.join(args.opts)}")
    if args.setting not in ("xd", "dg") and (args.source or args.targets):
        raise SweepError(f"--source and --targets are for xd and dg, not {args.setting}")
    if args.setting in ("xd", "dg") and args.datasets:
        raise SweepError(f"{args.setting} takes --source and --targets, not --datasets")
    env = dict(os.environ, OUTPUT=args.output, PYTHON=os.environ.get("PYTHON", sys.executable))
    for key, value in (("TRAINER", args.trainer), ("CFG", args.cfg), ("DATA", args.data), ("SOURCE", args.source)):
        if value:
            env[key] = value
    env.pop("DRY_RUN", None)
    env["TRAINER"] = script_default("TRAINER", env)
    jobs = expand(args.setting, datasets=args.datasets, seeds=args.seeds, shots_list=args.shots_list,
                  source=args.source, targets=args.targets, overrides=args.opts)
    table = ["--setting", args.setting, "--trainer", env["TRAINER"], "--seeds", *map(str, args.seeds)]
    if args.cfg:
        table += ["--cfg", args.cfg]
    datasets = args.datasets or ()
    if args.setting in ("base2new", "fewshot") and datasets and all(d in catalog.TOY_DATASETS for d in datasets):
        table += ["--datasets", *datasets]  # a toy sweep averages over its own datasets
    return Sweep(args.setting, jobs, env, os.getcwd(), table)


def log_folder(sweep: Sweep) -> str:
    """Where the launchers keep their logs: beside the results, per setting and trainer."""
    return os.path.join(sweep.env["OUTPUT"], "sweep_logs", sweep.setting, sweep.env["TRAINER"])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)
    try:
        slots = slots_from(args)
        sweep = plan(args)
        todo, done = probe_all(sweep.jobs, sweep.env, sweep.cwd)
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dry = os.environ.get("DRY_RUN") == "1"
    for job in done + (todo if dry else []):
        print(job.said)  # "Skip training: DIR holds a finished run" / "Would run training: COMMAND"
    if dry:
        return 0
    print(f"sweep: {len(sweep.jobs)} job(s), {len(done)} finished before, {len(todo)} to run "
          f"({args.launcher}{'' if args.launcher != 'gpus' else f', {len(slots)} slot(s)'})", flush=True)
    ledger = Ledger(todo, already_done=len(done))
    stop_status = None
    try:
        if args.launcher == "local":
            stop_status = run_local(ledger, sweep.env, sweep.cwd, args.keep_going)
        elif args.launcher == "gpus":
            run_slots(ledger, sweep.env, sweep.cwd, slots, os.path.join(log_folder(sweep), "jobs"), args.keep_going)
        else:
            from metaprompt.sweep.slurm import Resources, run_slurm

            res = Resources(args.partition, args.gpus_per_job, args.cpus_per_job, args.mem_gb, args.time_min,
                            args.max_parallel)
            run_slurm(ledger, sweep.env, sweep.cwd, os.path.join(log_folder(sweep), "slurm"), res, args.poll)
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    record_times(ledger, log_folder(sweep), args.launcher)
    if stop_status is not None:
        return stop_status

    from metaprompt.results.tables import main as tables

    tables([sweep.env["OUTPUT"], *sweep.table_args])
    return report(ledger)


def record_times(ledger: Ledger, folder: str, launcher: str) -> None:
    """Append each job's wall time to FOLDER/times.tsv (the measured input of a sweep's estimate)."""
    if not ledger.seconds:
        return
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "times.tsv")
    new = not os.path.exists(path)
    with open(path, "a", encoding="utf-8") as f:
        if new:
            f.write("job\tseconds\tstatus\tlauncher\n")
        for name, seconds in ledger.seconds.items():
            f.write(f"{name}\t{seconds:.2f}\t{'done' if name in ledger.done else 'failed'}\t{launcher}\n")
    mean = sum(ledger.seconds.values()) / len(ledger.seconds)
    print(f"sweep: job wall time mean {mean:.1f} s, max {max(ledger.seconds.values()):.1f} s "
          f"over {len(ledger.seconds)} job(s); each in {path}", flush=True)


def report(ledger: Ledger) -> int:
    left = ledger.pending()
    if not ledger.failures and not left:
        return 0
    if ledger.failures:
        print(f"error: {len(ledger.failures)} step(s) failed:", file=sys.stderr)
        for f in ledger.failures:
            print(f"  {f.job.name} ({f.reason})" + (f"  log: {f.log}" if f.log else ""), file=sys.stderr)
    if left:
        print(f"error: {len(left)} step(s) not started after the failure; re-run the sweep to continue "
              "(finished runs are skipped).", file=sys.stderr)
    return 1
