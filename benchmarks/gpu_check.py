"""The GPU check: one command that runs what no CPU test can confirm, and writes a Markdown report.

    bash scripts/gpu_check.sh                 # on one GPU; about 5 minutes (planned, not yet measured)
    bash scripts/gpu_check.sh --smoke         # on CPU, tiny sizes: checks that the script itself runs
    bash scripts/gpu_check.sh --parts step,eval   # a subset of the parts below (toy, step, eval)

Parts (each one a command of this project, its output copied into the report):

1. toy base-to-new for ProMetaR and GRAM in fp16, amp and fp32 (``scripts/toy_table.sh``,
   toy_textures, seed 1, 2 epochs; ``--smoke``: 1 epoch and a 2-step GRAM meta-training);
2. the step benchmark (``benchmarks/prometar_step.py``) at ViT-B/16 size and 224 px in fp16 and
   amp: plain IVLP vs ProMetaR first and second order (fp16 also with the batched backward), seconds per
   step and peak memory, and in fp16 at 1,000 classes (``--smoke``: the tiny CLIP at 32 px on CPU,
   fewer variants, 20 classes);
3. evaluation at 1,000 classes (``benchmarks/eval_text_cache.py``, ViT-B/16 random weights,
   fp16; ``--smoke``: the tiny CLIP on CPU, fp32).

``--smoke`` sets ``METAPROMPT_CPU_HALF=1`` so fp16 and amp take the GPU's code paths on CPU.
A part that fails is reported as failed (with the end of its output) and the others still run;
the exit status is 1 if any part failed.
"""
from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRECS = ("fp16", "amp", "fp32")
PARTS = ("toy", "step", "eval")


def parts(args) -> list[tuple[str, list[str], dict]]:
    """(title, command, extra environment) of every part, in order."""
    py, out = sys.executable, args.output
    smoke = args.smoke
    toy_opts = (["OPTIM.MAX_EPOCH", "1", "TRAINER.GRAM.META.STEPS", "2"] if smoke
                else ["OPTIM.MAX_EPOCH", "2"])
    out_parts = []
    for prec in PRECS if "toy" in args.parts else ():
        env = {"TRAINERS": "ProMetaR GRAM", "DATASETS": "toy_textures", "SEEDS": "1", "JOBS": "1",
               "OUTPUT": os.path.join(out, f"toy_{prec}"), "PYTHON": py}
        cmd = ["bash", os.path.join(REPO, "scripts", "toy_table.sh"), *toy_opts,
               "TRAINER.PROMETAR.PREC", prec, "TRAINER.GRAM.PREC", prec]
        out_parts.append((f"Toy base-to-new, ProMetaR and GRAM, PREC {prec}", cmd, env))
    bench = [py, os.path.join(REPO, "benchmarks", "prometar_step.py")]
    for prec in ("fp16", "amp") if "step" in args.parts else ():
        size = (["--model", "tiny", "--size", "32", "--iters", "1", "--warmup", "0", "--variants", "plain",
                 *(["prometar-1st"] if prec == "fp16" else []), "prometar-2nd"] if smoke
                else ["--model", "vitb16-width", "--size", "224", "--iters", "5", "--warmup", "2", "--device", "cuda"]
                + ([] if prec == "fp16" else ["--variants", "plain", "prometar-1st", "prometar-2nd"]))
        out_parts.append((f"ProMetaR step cost, ViT-B/16 size, PREC {prec}", [*bench, *size, "--prec", prec,
                          "--attention", "default"], {}))
    if "step" in args.parts:  # memory at ImageNet's label-set size (docs/prometar.md extrapolates it)
        size = (["--model", "tiny", "--size", "32", "--iters", "1", "--warmup", "0", "--classes", "20"] if smoke
                else ["--model", "vitb16-width", "--size", "224", "--iters", "2", "--warmup", "1", "--device", "cuda",
                      "--classes", "1000"])
        variants = ["prometar-2nd"] if smoke else ["plain", "prometar-1st", "prometar-2nd"]
        out_parts.append((f"ProMetaR step at {'20 (smoke)' if smoke else '1,000'} classes, ViT-B/16 size, PREC fp16",
                          [*bench, *size, "--prec", "fp16", "--attention", "default", "--variants", *variants], {}))
    evaluation = ([py, os.path.join(REPO, "benchmarks", "eval_text_cache.py"), "--classes", "1000"]
                  + (["--images", "20", "--batch-size", "10", "--repeats", "1"] if smoke
                     else ["--backbone", "vit-b16-random", "--device", "cuda", "--prec", "fp16"]))
    if "eval" in args.parts:
        out_parts.append(("Evaluation at 1,000 classes", evaluation, {}))
    return out_parts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes on CPU (checks that the script runs)")
    p.add_argument("--output", default=os.path.join("output", "gpu_check"), help="folder of the runs and the report")
    p.add_argument("--parts", default="toy,step,eval", help="comma-separated subset of toy, step, eval")
    args = p.parse_args(argv)
    args.parts = args.parts.split(",")
    bad = [x for x in args.parts if x not in PARTS]
    if bad:
        p.error(f"--parts: unknown {bad}; choose from {','.join(PARTS)}")
    os.makedirs(args.output, exist_ok=True)
    base_env = dict(os.environ, METAPROMPT_RUNTIME=os.environ.get("METAPROMPT_RUNTIME", "builtin"))
    if args.smoke:
        base_env["METAPROMPT_CPU_HALF"] = "1"
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU)"
    lines = [f"# GPU check{' (smoke, CPU)' if args.smoke else ''}", "",
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, torch {torch.__version__}, "
             f"device: {device}", ""]
    failed, start = [], time.time()
    for title, cmd, env in parts(args):
        t0 = time.time()
        print(f"== {title}", flush=True)
        run = subprocess.run(cmd, cwd=REPO, env={**base_env, **env}, capture_output=True, text=True)
        text = (run.stdout + run.stderr) if run.returncode else run.stdout
        ok = run.returncode == 0
        if not ok:
            failed.append(title)
        lines += [f"## {title}: {'ok' if ok else f'FAILED (exit {run.returncode})'}, {time.time() - t0:.0f} s", "",
                  "`" + " ".join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in cmd) + "`", "",
                  "```", _tail(text), "```", ""]
    lines.append(f"Total: {time.time() - start:.0f} s; {'all parts ok' if not failed else 'failed: ' + ', '.join(failed)}.")
    report = os.path.join(args.output, "report.md")
    with open(report, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"Report: {report}" + (f" (failed: {', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


def _tail(text: str, n: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


if __name__ == "__main__":
    sys.exit(main())
