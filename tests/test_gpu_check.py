"""scripts/gpu_check.sh runs: its --smoke mode on CPU (the step benchmark in fp16 and amp on the
tiny CLIP through the GPU's code paths, evaluation at 1,000 classes), and writes its report."""
import os
import subprocess

import pytest

pytestmark = pytest.mark.usefixtures("one_thread")


def run(repo, env, *args):
    return subprocess.run(["bash", os.path.join(repo, "scripts", "gpu_check.sh"), *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)


def test_smoke_mode_runs_and_writes_the_report(repo, script_env):
    script_env["OMP_NUM_THREADS"] = "1"
    out = run(repo, script_env, "--smoke", "--parts", "step,eval")  # the toy part: see docs/gpu_check.md
    assert out.returncode == 0, out.stdout + out.stderr
    with open(os.path.join(script_env["OUTPUT"], "gpu_check", "report.md"), encoding="utf-8") as f:
        report = f.read()
    assert report.startswith("# GPU check (smoke, CPU)")
    for title in ("ProMetaR step cost, ViT-B/16 size, PREC fp16: ok", "PREC amp: ok",
                  "ProMetaR step at 20 (smoke) classes, ViT-B/16 size, PREC fp16: ok", "Evaluation at 1,000 classes: ok"):
        assert title in report, report
    assert ", cpu, fp16," in report and ", cpu, amp," in report and " ran as " not in report  # no fallback
    for variant in ("plain", "prometar-1st", "prometar-2nd"):
        assert f"\n{variant} " in report
    assert "1,000 classes, 20 images" in report and "all parts ok" in report


def test_unknown_part_is_one_clear_error(repo, script_env):
    out = run(repo, script_env, "--parts", "step,gpu")
    assert out.returncode == 2
    assert "--parts: unknown ['gpu']; choose from toy,step,eval" in out.stderr
