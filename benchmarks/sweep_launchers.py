"""Wall clock of one toy sweep on the local launcher and on N CPU slots, side by side in one run.

    python benchmarks/sweep_launchers.py [--workers 2] [--trainer CoOp] [--datasets toy_shapes,toy_sketch]
                                         [--seeds 1,2] [--shots 2] [--epochs 1]

Runs ``python -m metaprompt.sweep base2new`` on the toy datasets (nothing to download) into two
fresh output folders, first with ``--launcher local``, then with ``--launcher gpus --cpu-workers
N``; every job uses one thread. Prints each sweep's wall clock, their ratio, the per-job wall
times the launchers measured (times.tsv: mean, min, max by phase) and whether the two tables agree.
The per-job times are the input of the estimate in docs/benchmark.md.

    python benchmarks/sweep_launchers.py --estimate [--epochs 10] [--overhead-its 0]

prints instead the wall clock of the 11 x 3 base-to-new sweep on N = 1, 2, 3, 4, 6, 8, 16 slots in
training iterations (multiply by one iteration's time on your GPU), by replaying the ``gpus``
launcher's queue (sweep order, a slot takes the first ready job) over the iterations per epoch the
reference releases report (docs/benchmark.md); each job costs ``--overhead-its`` more (start-up,
evaluation). Nothing is measured in this mode.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time


def sweep(out: str, cache: str, args, launcher: list[str]) -> tuple[float, str, list[dict]]:
    env = dict(os.environ, OUTPUT=os.path.join(out, "output"), XDG_CACHE_HOME=cache,
               PYTHON=sys.executable, OMP_NUM_THREADS="1", SHOTS=str(args.shots))
    env.pop("DATA", None)
    cmd = [sys.executable, "-m", "metaprompt.sweep", "--trainer", args.trainer, "--cfg", "toy",
           "--seeds", args.seeds, "--datasets", args.datasets, *launcher, "base2new",
           "OPTIM.MAX_EPOCH", str(args.epochs), "OPTIM.WARMUP_EPOCH", "0"]
    start = time.monotonic()
    done = subprocess.run(cmd, env=env, cwd=out, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"error: the sweep failed ({' '.join(launcher)}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    times = os.path.join(env["OUTPUT"], "sweep_logs", "base2new", args.trainer, "times.tsv")
    with open(times, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return wall, done.stdout[done.stdout.index("== base2new:"):], rows


def phase_stats(rows: list[dict], phase: str) -> str:
    s = [float(r["seconds"]) for r in rows if r["job"].startswith(phase)]
    return f"{phase}: n={len(s)} mean {statistics.mean(s):.1f} s, min {min(s):.1f}, max {max(s):.1f}"


# Iterations per epoch at batch 4, 16 shots, base classes (the reference releases; docs/benchmark.md).
ITERS_PER_EPOCH = {"imagenet": 2000, "caltech101": 200, "oxford_pets": 76, "stanford_cars": 392,
                   "oxford_flowers": 204, "food101": 204, "fgvc_aircraft": 200, "sun397": 796, "dtd": 96,
                   "eurosat": 20, "ucf101": 204}


def replay(jobs, cost: dict, slots: int) -> float:
    """Finish time of ``jobs`` on ``slots`` slots, each free slot taking the first ready job in order
    (what metaprompt.sweep.launch.run_slots does)."""
    import heapq

    done_at: dict[str, float] = {}
    running: list[tuple[float, str]] = []  # (end time, name)
    pending = list(jobs)
    now = 0.0
    while pending or running:
        while len(running) < slots:
            ready = next((j for j in pending if all(a in done_at and done_at[a] <= now for a in j.after)), None)
            if ready is None:
                break
            pending.remove(ready)
            heapq.heappush(running, (now + cost[ready.name], ready.name))
        now, name = heapq.heappop(running)
        done_at[name] = now
    return now


def estimate(epochs: int, overhead: float) -> None:
    from metaprompt.sweep.plan import expand

    jobs = expand("base2new")
    cost = {j.name: overhead + (epochs * ITERS_PER_EPOCH[j.name.split()[1]] if "train" in j.name else 0)
            for j in jobs}
    total, longest = sum(cost.values()), max(cost.values())
    print(f"11 x 3 base-to-new, {epochs} epochs: {len(jobs)} jobs, {total:,.0f} iterations in all, "
          f"longest job {longest:,.0f}")
    print("slots  wall clock (iterations)  lower bound max(total/N, longest)  speed-up vs 1 slot")
    for n in (1, 2, 3, 4, 6, 8, 16):
        wall = replay(jobs, cost, n)
        print(f"{n:5d}  {wall:24,.0f}  {max(total / n, longest):35,.0f}  {total / wall:18.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--trainer", default="CoOp")
    p.add_argument("--datasets", default="toy_shapes,toy_sketch")
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--shots", type=int, default=2)
    p.add_argument("--epochs", type=int, default=None, help="default: 1 for the toy sweep, 10 for --estimate")
    p.add_argument("--estimate", action="store_true", help="replay the 11 x 3 sweep's queue instead (no runs)")
    p.add_argument("--overhead-its", type=float, default=0.0, help="--estimate: cost of a job beyond its training")
    args = p.parse_args()
    if args.estimate:
        estimate(args.epochs or 10, args.overhead_its)
        return
    args.epochs = args.epochs or 1
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b, tempfile.TemporaryDirectory() as c:
        # One data root: the toy datasets write themselves there during the local sweep (two first
        # runs writing one fresh data root at once can collide), so both sweeps time the same work.
        local, table_local, rows_local = sweep(a, c, args, ["--launcher", "local"])
        slots, table_slots, rows_slots = sweep(b, c, args, ["--launcher", "gpus", "--cpu-workers", str(args.workers)])
    print(f"cpu cores: {os.cpu_count()}; 1-minute load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"local launcher:             {local:7.1f} s wall for {len(rows_local)} jobs")
    print(f"gpus launcher, {args.workers} CPU slots: {slots:7.1f} s wall  (local / slots = {local / slots:.2f}x)")
    for name, rows in (("local", rows_local), ("slots", rows_slots)):
        print(f"per-job wall ({name}): " + "; ".join(phase_stats(rows, ph) for ph in ("base2new_train", "base2new_test")))
    print(f"tables identical: {table_local == table_slots}")


if __name__ == "__main__":
    main()
