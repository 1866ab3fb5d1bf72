"""The sweep launcher (metaprompt.sweep): the jobs a setting expands to, the slot queue (no wave
barrier, one CUDA_VISIBLE_DEVICES per slot, dependencies, failures with their logs), bad input,
and a toy sweep whose table is the same on the local and the slot launcher, resumed after a kill.
The Slurm launcher against a real local Slurm is in test_sweep_slurm.py."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metaprompt.results.logparse import read_run
from metaprompt.sweep.cli import main
from metaprompt.sweep.launch import Ledger, run_slots
from metaprompt.sweep.plan import Job, expand

TOY = ["toy_shapes", "toy_sketch"]
# The smallest toy base-to-new runs: CoOp, 2 shots (SHOTS=2 below), 1 epoch without warm-up (so
# that the seeds differ), one thread each.
TOY_ARGS = ["--trainer", "CoOp", "--cfg", "toy", "--seeds", "1,2", "--datasets", ",".join(TOY)]
TOY_OPTS = ["OPTIM.MAX_EPOCH", "1", "OPTIM.WARMUP_EPOCH", "0"]


def names(jobs):
    return [j.name for j in jobs]


def test_settings_expand_to_script_calls_with_their_dependencies():
    jobs = expand("base2new", datasets=TOY, seeds=(1, 2), overrides=TOY_OPTS)
    assert names(jobs) == ["base2new_train.sh toy_shapes 1", "base2new_test.sh toy_shapes 1",
                           "base2new_train.sh toy_shapes 2", "base2new_test.sh toy_shapes 2",
                           "base2new_train.sh toy_sketch 1", "base2new_test.sh toy_sketch 1",
                           "base2new_train.sh toy_sketch 2", "base2new_test.sh toy_sketch 2"]
    assert [j.after for j in jobs[:2]] == [(), ("base2new_train.sh toy_shapes 1",)]
    assert jobs[1].argv[1].endswith("scripts/base2new_test.sh")
    assert jobs[1].argv[2:] == ("toy_shapes", "1", *TOY_OPTS)

    jobs = expand("dg", seeds=(3,), source="synthetic", targets=["imagenetv2", "imagenet_a"])
    assert names(jobs) == ["xd_train.sh synthetic 3", "dg_test.sh imagenetv2 3", "dg_test.sh imagenet_a 3"]
    assert all(j.after == ("xd_train.sh synthetic 3",) for j in jobs[1:])
    assert len(expand("xd", seeds=(1, 2, 3))) == 3 * (1 + 10)  # ImageNet training + the 10 targets, per seed
    assert len(expand("base2new")) == 11 * 3 * 2  # the benchmark: 66 script calls
    jobs = expand("fewshot", datasets=["dtd"], seeds=(1,), shots_list=(1, 16))
    assert names(jobs) == ["fewshot.sh dtd 1 1", "fewshot.sh dtd 1 16"] and not any(j.after for j in jobs)


def fake(name, seconds, stamps, after=(), status=0):
    """A job that notes when it starts and ends and its CUDA_VISIBLE_DEVICES, sleeps, exits with ``status``."""
    script = (f'echo "start $(date +%s.%N) $CUDA_VISIBLE_DEVICES" >> {stamps}/{name}; sleep {seconds}; '
              f'echo "end $(date +%s.%N)" >> {stamps}/{name}; echo "output of {name}"; exit {status}')
    return Job(name, ("bash", "-c", script), tuple(after))


def stamps_of(stamps, name):
    lines = (stamps / name).read_text().split("\n")
    start, end = lines[0].split(" ", 2), lines[1].split(" ")
    return float(start[1]), float(end[1]), start[2]


def test_slots_refill_at_once_follow_dependencies_and_list_failures(tmp_path):
    stamps, logs = tmp_path / "stamps", tmp_path / "logs"
    stamps.mkdir()
    jobs = [fake("long", 3, stamps), fake("s1", 0.1, stamps), fake("s2", 0.1, stamps),
            fake("after_s1", 0.1, stamps, after=["s1"]), fake("bad", 0.1, stamps, status=3),
            fake("after_bad", 0.1, stamps, after=["bad"]), fake("after_after_bad", 0.1, stamps, after=["after_bad"])]
    ledger = Ledger(jobs, out=open(os.devnull, "w"))
    run_slots(ledger, dict(os.environ), str(tmp_path), ["0", "1"], str(logs), keep_going=True, poll=0.05)

    _, long_end, _ = stamps_of(stamps, "long")
    # No wave barrier: while "long" runs on one slot, the other slot runs every short job in turn.
    for name in ("s1", "s2", "after_s1", "bad"):
        start, end, device = stamps_of(stamps, name)
        assert end < long_end, name  # (which of two processes notes its start first is up to the OS)
        assert device == "1", name  # slot 0 is busy with "long" the whole time
    assert stamps_of(stamps, "long")[2] == "0"
    assert stamps_of(stamps, "after_s1")[0] >= stamps_of(stamps, "s1")[1]
    assert ledger.done == {"long", "s1", "s2", "after_s1"}
    assert not (stamps / "after_bad").exists() and not (stamps / "after_after_bad").exists()
    failures = {f.job.name: f for f in ledger.failures}
    assert failures["bad"].reason == "status 3" and failures["bad"].log == str(logs / "bad.log")
    assert "output of bad" in (logs / "bad.log").read_text()
    assert failures["after_bad"].reason == "not run: 'bad' failed"
    assert failures["after_after_bad"].reason == "not run: 'after_bad' failed"


def test_slots_without_keep_going_start_nothing_after_a_failure(tmp_path):
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    jobs = [fake("bad", 0.1, stamps, status=1), fake("next", 0.1, stamps)]
    ledger = Ledger(jobs, out=open(os.devnull, "w"))
    run_slots(ledger, dict(os.environ), str(tmp_path), [""], str(tmp_path / "logs"), keep_going=False, poll=0.05)
    assert not (stamps / "next").exists() and names(ledger.pending()) == ["next"]


@pytest.mark.parametrize("args,message", [
    (["--launcher", "gpus", "base2new"], "--launcher gpus needs --gpus 0,1,... or --cpu-workers N"),
    (["--launcher", "gpus", "--gpus", "0,x", "base2new"], "--gpus takes GPU numbers separated by commas"),
    (["--launcher", "gpus", "--cpu-workers", "0", "base2new"], "--cpu-workers must be at least 1"),
    (["--gpus", "0,1", "base2new"], "--gpus and --cpu-workers are for --launcher gpus, not local"),
    (["--datasets", "toy_shapes", "base2new", "OPTIM.MAX_EPOCH"], "KEY VALUE pairs, got an odd number"),
    (["--targets", "dtd", "base2new"], "--source and --targets are for xd and dg, not base2new"),
    (["--data", ".", "--datasets", "toy_shape", "--seeds", "1", "base2new"],
     "base2new_train.sh toy_shape 1: unknown dataset(s): toy_shape"),
    (["--trainer", "CoOpp", "--datasets", "toy_shapes", "--seeds", "1", "base2new"], "unknown trainer 'CoOpp'"),
    (["--seeds", "1", "--datasets", "dtd", "base2new"], "DATA is not set ('dtd' needs it)"),
])
def test_bad_input_gets_one_line(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATA", raising=False)
    assert main(["--output", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def sweep(repo, env, cwd, *launcher, timeout=600):
    cmd = [sys.executable, "-m", "metaprompt.sweep", *TOY_ARGS, *launcher, "base2new", *TOY_OPTS]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def table_of(stdout):
    """The results table the sweep printed (from its title on)."""
    return stdout[stdout.index("== base2new: CoOp / toy"):]


@pytest.fixture(scope="module")
def local_toy_sweep(tmp_path_factory):
    """The 2-dataset x 2-seed toy sweep on the local launcher: (its output, its table, its env)."""
    work = tmp_path_factory.mktemp("local_sweep")
    env = dict(os.environ, OUTPUT=str(work / "output"), XDG_CACHE_HOME=str(work / "cache"),
               PYTHON=sys.executable, OMP_NUM_THREADS="1", SHOTS="2")
    env.pop("DATA", None)
    out = sweep(None, env, work, "--launcher", "local")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sweep: 8 job(s), 0 finished before, 8 to run (local)" in out.stdout
    assert "sweep: 8 done / 0 running / 0 failed / 0 pending" in out.stdout
    return work / "output", table_of(out.stdout), env


def test_toy_sweep_table_is_the_same_on_slots_and_resumes_after_a_kill(local_toy_sweep, tmp_path):
    _, local_table, env = local_toy_sweep
    env = dict(env, OUTPUT=str(tmp_path / "output"))
    assert re.search(r"ToyShapes +\d+\.\d\d ± \d+\.\d\d", local_table) and "Missing or unfinished" not in local_table
    cmd = [sys.executable, "-m", "metaprompt.sweep", *TOY_ARGS, "--launcher", "gpus", "--cpu-workers", "2",
           "base2new", *TOY_OPTS]
    train = tmp_path / "output/base2new/train_base"
    first = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:  # kill the launcher and its jobs once two training runs have finished
        deadline = time.time() + 300
        while sum(read_run(str(d)).finished for d in train.glob("*/shots_2/CoOp/toy/seed*")) < 2:
            assert first.poll() is None and time.time() < deadline, first.stdout.read().decode()[-3000:]
            time.sleep(0.2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()

    again = sweep(None, env, tmp_path, "--launcher", "gpus", "--cpu-workers", "2")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    before = int(re.search(r"sweep: 8 job\(s\), (\d+) finished before, (\d+) to run", again.stdout).group(1))
    assert 2 <= before < 8  # the finished ones were not submitted again
    assert table_of(again.stdout) == local_table
    logs = tmp_path / "output/sweep_logs/base2new/CoOp/jobs"
    assert (logs / "base2new_test-toy_sketch-2.log").read_text().startswith("==== ")

    # Nothing missing: nothing runs.
    third = sweep(None, env, tmp_path, "--launcher", "gpus", "--cpu-workers", "2")
    assert "8 finished before, 0 to run" in third.stdout and table_of(third.stdout) == local_table


def test_sweep_sh_forwards_its_variables_and_launcher(repo, local_toy_sweep):
    """sweep.sh's DATASETS, SEEDS, TRAINER, CFG, OUTPUT and overrides reach the launcher, with
    LAUNCHER and LAUNCHER_ARGS; on a finished tree it runs nothing and prints the same table."""
    output, local_table, env = local_toy_sweep
    env = dict(env, OUTPUT=str(output), TRAINER="CoOp", CFG="toy", DATASETS=" ".join(TOY), SEEDS="1 2",
               LAUNCHER="gpus", LAUNCHER_ARGS="--cpu-workers 2")
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "sweep.sh"), "base2new", *TOY_OPTS], env=env,
                         cwd=output.parent, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sweep: 8 job(s), 8 finished before, 0 to run (gpus, 2 slot(s))" in out.stdout
    assert out.stdout.count("Skip ") == 8 and table_of(out.stdout) == local_table
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "sweep.sh"), "base2new"],
                         env=dict(env, LAUNCHER_ARGS=""), cwd=output.parent, capture_output=True, text=True)
    assert out.returncode == 2 and "error: --launcher gpus needs --gpus 0,1,... or --cpu-workers N" in out.stderr


# ---- the slurm launcher, on a one-node Slurm on this machine (tests/slurm/start_local_slurm.sh) ----

def slurm_missing() -> str | None:
    """Why the local Slurm cannot run here, or None."""
    import shutil

    if os.geteuid() != 0:
        return "needs root to start slurmd"
    missing = [t for t in ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue") if not shutil.which(t)]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install -y slurm-wlm munge; .ci/run does it where apt works)"
    try:
        import submitit  # noqa: F401
    except ImportError:
        return "submitit not installed (pip install -e '.[slurm]')"
    return None


@pytest.fixture(scope="module")
def local_slurm(tmp_path_factory):
    """A one-node Slurm (2 CPUs, loopback only) for this module; stopped at its end."""
    reason = slurm_missing()
    if reason:
        pytest.skip(f"no local Slurm: {reason}")
    import tempfile

    parent = tempfile.mkdtemp(prefix="metaprompt-slurm-")  # munged wants world-executable parents
    os.chmod(parent, 0o755)
    cluster = os.path.join(parent, "cluster")
    tools = os.path.join(os.path.dirname(__file__), "slurm")
    start = subprocess.run(["bash", os.path.join(tools, "start_local_slurm.sh"), cluster, "2"],
                           capture_output=True, text=True, timeout=120)
    try:
        assert start.returncode == 0, start.stderr
        yield {"SLURM_CONF": os.path.join(cluster, "slurm.conf"),
               "PATH": os.path.join(cluster, "bin") + os.pathsep + os.environ["PATH"]}
    finally:
        subprocess.run(["bash", os.path.join(tools, "stop_local_slurm.sh"), cluster], timeout=120)


def test_toy_sweep_through_slurm_gives_the_local_table(local_toy_sweep, local_slurm, tmp_path):
    _, local_table, env = local_toy_sweep
    env = dict(env, OUTPUT=str(tmp_path / "output"), **local_slurm)
    out = sweep(None, env, tmp_path, "--launcher", "slurm", "--poll", "0.5", "--cpus-per-job", "1",
                "--time-min", "10")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert table_of(out.stdout) == local_table
    # One array of the 4 trainings, then each evaluation afterok on its own training.
    slurm_logs = tmp_path / "output/sweep_logs/base2new/CoOp/slurm"
    ids = re.search(r"submitted 8 job\(s\) as Slurm job\(s\) ([\d, ]+);", out.stdout).group(1).split(", ")
    assert len(ids) == 5
    assert sorted(p.name for p in slurm_logs.glob(f"{ids[0]}_*_log.out")) == [f"{ids[0]}_{i}_0_log.out" for i in range(4)]
    # (a one-job array is submitted as a plain job: its logs are <job>_0_log.*)
    assert "Run evaluation:" in (slurm_logs / f"{ids[1]}_0_log.out").read_text()

    again = sweep(None, env, tmp_path, "--launcher", "slurm", "--poll", "0.5")
    assert again.returncode == 0 and "8 finished before, 0 to run" in again.stdout
    assert "submitted" not in again.stdout and table_of(again.stdout) == local_table

    # A failing training: its evaluation is cancelled, never left waiting; both are listed.
    bad = subprocess.run([sys.executable, "-m", "metaprompt.sweep", "--trainer", "CoOp", "--cfg", "toy",
                          "--seeds", "1", "--datasets", "toy_shapes", "--launcher", "slurm", "--poll", "0.5",
                          "--output", str(tmp_path / "bad"), "base2new", "OPTIM.NO_SUCH_KEY", "1"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1, bad.stdout[-3000:] + bad.stderr[-3000:]
    assert re.search(r"base2new_train.sh toy_shapes 1 \(Slurm job \d+ FAILED\)  log: \S+/\d+_0_log.err", bad.stderr)
    assert "base2new_test.sh toy_shapes 1 (not run: 'base2new_train.sh toy_shapes 1' failed)" in bad.stderr
