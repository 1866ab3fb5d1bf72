"""Seconds per iteration and peak memory: the wrapped learner's plain step vs ProMetaR's step.

    python benchmarks/prometar_step.py                       # tiny CLIP, CPU
    python benchmarks/prometar_step.py --model vitb16-width  # ViT-B/16 widths (768/512, 12 layers), 32 px
    python benchmarks/prometar_step.py --device cuda --model vitb16-width --size 224

Each variant runs the real trainers' ``forward_backward`` (IVLP/CoOp/VPT/MaPLe for the plain
step, ProMetaR first and second order) on one fixed batch (``--classes`` classes, ``--batch``
images, random weights: no download), in its own subprocess so that its peak memory is its own.
Peak memory on CPU is the process's peak resident set size (``resource.getrusage`` ru_maxrss),
also shown above the RSS measured right after the trainer was built; on CUDA it is
``torch.cuda.max_memory_allocated``. ``--attention math`` forces math attention for every
variant (the release's comparison); ``default`` lets each step use the fused kernels it can.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from types import SimpleNamespace

os.environ.setdefault("METAPROMPT_RUNTIME", "builtin")

MODELS = {
    "tiny": dict(),  # metaprompt.clip.tiny.TINY_VIT
    "vitb16-width": dict(embed_dim=512, vision_layers=12, vision_width=768, vision_patch_size=16,
                         transformer_width=512, transformer_heads=8, transformer_layers=12),
}
# "-batched": g_ce and g_reg in one batched backward (ProMetaRSettings.batched_backward) instead of
# the default two passes, timed side by side in one run.
# "-77": the text tower runs all 77 positions (as before it stopped at the last end-of-text token).
VARIANTS = ("plain", "prometar-1st", "prometar-2nd", "prometar-1st-batched", "prometar-2nd-batched",
            "plain-77", "prometar-1st-77", "prometar-2nd-77")
# Learner keys per base: the release's IVLP 4+4 depth 9 on the ViT-B/16-width model.
LEARNER_OPTS = {
    "IVLP": ["TRAINER.{node}.N_CTX_VISION", 4, "TRAINER.{node}.N_CTX_TEXT", 4,
             "TRAINER.{node}.PROMPT_DEPTH_VISION", "{depth}", "TRAINER.{node}.PROMPT_DEPTH_TEXT", "{depth}"],
    "CoOp": ["TRAINER.COOP.CTX_INIT", "a photo of a"],
    "VPT": ["TRAINER.VPT.N_CTX_VISION", 4, "TRAINER.VPT.PROMPT_DEPTH_VISION", "{depth}"],
    "MaPLe": ["TRAINER.MAPLE.N_CTX", 2, "TRAINER.MAPLE.PROMPT_DEPTH", "{depth}"],
}
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white", "grey", "brown"]
SHAPES = ["circle", "square", "triangle", "star", "cross", "ring", "heart", "arrow", "moon", "drop"]
# 1,000 distinct class names: "red circle" ... "brown drop", then the same with " 1" ... " 9".
CLASSNAMES = [f"{c} {s}{f' {k}' if k else ''}" for k in range(10) for s in SHAPES for c in COLOURS]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build_trainer(args, variant: str):
    import torch

    import metaprompt  # noqa: F401  (registers trainers)
    from metaprompt.clip import build_tiny_clip, register_backbone
    from metaprompt.config import build_cfg
    from metaprompt.runtime import TRAINER_REGISTRY

    backbone = f"bench-{args.model}-{args.size}"
    register_backbone(backbone)(lambda: build_tiny_clip(image_resolution=args.size, **MODELS[args.model]))
    plain = variant.startswith("plain")
    trainer_name = args.base if plain else "ProMetaR"
    node = "IVLP" if plain else "PROMETAR"
    depth = 9 if args.model == "vitb16-width" else 3
    learner_opts = [str(v).format(node=node, depth=depth) for v in LEARNER_OPTS[args.base]]
    opts = ["TRAINER.NAME", trainer_name, "MODEL.BACKBONE.NAME", backbone, "INPUT.SIZE", f"({args.size}, {args.size})",
            "OPTIM.NAME", "sgd", "OPTIM.LR", "0.0025", "OPTIM_VNET.NAME", "sgd", "OPTIM_VNET.LR", "0.00025",
            "USE_CUDA", str(args.device == "cuda"), "OUTPUT_DIR", "", *learner_opts,
            f"TRAINER.{_node(args.base) if plain else 'PROMETAR'}.PREC", args.prec]
    if not plain:
        opts += ["TRAINER.PROMETAR.BASE", args.base, "TRAINER.PROMETAR.FAST_ADAPTATION", str("-1st" in variant),
                 # one teacher template: the teacher is computed once, outside the timed steps (60 x 1,000 is slow)
                 "TRAINER.PROMETAR.TEACHER_TEMPLATES", "('a photo of a {}.',)"]
    cfg = build_cfg(opts=opts)
    cls = TRAINER_REGISTRY.get(trainer_name)

    class BenchTrainer(cls):  # the real trainer on a fixed in-memory batch instead of a dataset
        def build_data_loader(self):
            names = CLASSNAMES[: args.classes]
            self.dm = SimpleNamespace(dataset=SimpleNamespace(classnames=names))
            self.lab2cname = dict(enumerate(names))
            self.num_classes = len(names)

    trainer = BenchTrainer(cfg)
    trainer.batch_idx, trainer.num_batches, trainer.epoch = 0, 10 ** 9, 0
    trainer.set_model_mode("train")
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch, 3, args.size, args.size, generator=gen)
    labels = torch.arange(args.batch) % args.classes  # every class present: ProMetaR always runs Step B
    if args.step_a_only:
        labels = torch.zeros(args.batch, dtype=torch.long)  # one class: ProMetaR skips Step B
    return trainer, {"img": images, "label": labels}


def _node(base: str) -> str:
    return {"IVLP": "IVLP", "CoOp": "COOP", "VPT": "VPT", "MaPLe": "MAPLE"}[base]


def run_variant(args, variant: str) -> dict:
    import contextlib

    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.set_num_threads(args.threads) if args.threads else None
    trainer, batch = build_trainer(args, variant)
    trainer.model.text_encoder.stop_at_eot = not variant.endswith("-77")
    if not variant.startswith("plain"):
        method = trainer.method  # the one-off text teacher is not part of a step
        method.settings = dataclasses.replace(method.settings, batched_backward=variant.endswith("-batched"))
    attention = (lambda: sdpa_kernel(SDPBackend.MATH)) if args.attention == "math" else contextlib.nullcontext
    cuda = args.device == "cuda"
    baseline = torch.cuda.memory_allocated() if cuda else rss_bytes()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(args.warmup + args.iters):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with attention():
            trainer.forward_backward(batch)
        if cuda:
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"variant": variant, "median_s": statistics.median(times), "min_s": min(times), "peak": peak,
            "baseline": baseline, "prec": trainer.prec}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(MODELS), default="tiny")
    p.add_argument("--base", choices=sorted(LEARNER_OPTS), default="IVLP")
    p.add_argument("--size", type=int, default=32, help="image size (the model's input resolution)")
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--iters", type=int, default=12)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--prec", default="fp32", help="PREC of both trainers (fp32, fp16, amp, bf16)")
    p.add_argument("--attention", choices=("math", "default"), default="math")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--step-a-only", action="store_true",
                   help="one class per batch, so ProMetaR skips Step B: times Step A alone")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--rounds", type=int, default=1,
                   help="run the variants this many times in turn and keep each one's median over rounds "
                        "(evens out a shared machine's changing load)")
    p.add_argument("--_child", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child:
        print("RESULT " + json.dumps(run_variant(args, args._child)))
        return
    forwarded = _drop_variants(sys.argv[1:])
    runs: dict[str, list[dict]] = {v: [] for v in args.variants}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for variant in args.variants:
            out = subprocess.run([sys.executable, __file__, *forwarded, "--_child", variant], capture_output=True,
                                 text=True)
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if out.returncode != 0 or not lines:
                sys.exit(f"{variant} failed:\n{out.stderr[-3000:]}")
            runs[variant].append(json.loads(lines[-1][7:]))
    load_after = os.getloadavg()
    ran_as = sorted({r["prec"] for rs in runs.values() for r in rs} - {args.prec})
    if ran_as:  # e.g. fp16 on CPU without METAPROMPT_CPU_HALF=1
        print(f"note: PREC {args.prec} ran as {', '.join(ran_as)} on this device")
    keys = ("median_s", "min_s", "peak", "baseline")
    results = [{"variant": v, **{k: statistics.median(r[k] for r in rs) for k in keys}} for v, rs in runs.items()]
    mem = "CUDA max_memory_allocated" if args.device == "cuda" else "peak RSS (ru_maxrss)"
    print(f"model {args.model} ({args.size} px), base {args.base}, {args.classes} classes, batch {args.batch}, "
          f"{args.device}, {args.prec}, attention {args.attention}, threads {args.threads or 'default'}, "
          + ("Step A only (one class per batch), " if args.step_a_only else "") +
          f"median of {args.iters} iterations" + (f", median over {args.rounds} rounds" if args.rounds > 1 else ""))
    print(f"load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    by_name = {r["variant"]: r for r in results}
    # "x plain": against the plain step with the same text tower (a "-77" variant against plain-77).
    header = f"{'variant':<22}{'s/iter':>9}{'min s':>9}{'x plain':>9}   {mem:<26}{'x plain':>8}{'above build':>13}"
    print(header)
    for r in results:
        plain = by_name.get("plain-77" if r["variant"].endswith("-77") else "plain")
        t_ratio = f"{r['median_s'] / plain['median_s']:.2f}" if plain else "-"
        m_ratio = f"{r['peak'] / plain['peak']:.2f}" if plain else "-"
        print(f"{r['variant']:<22}{r['median_s']:>9.3f}{r['min_s']:>9.3f}{t_ratio:>9}   "
              f"{r['peak'] / 2**20:>10.0f} MiB{'':<12}{m_ratio:>8}{(r['peak'] - r['baseline']) / 2**20:>9.0f} MiB")
    before = [(v, by_name[v + "-77"]) for v in by_name if v + "-77" in by_name]
    if before:
        print("after / before (the text tower stopping at the last end-of-text token / all 77 positions):")
        for v, old in before:
            new = by_name[v]
            print(f"  {v:<20} time {new['median_s'] / old['median_s']:.2f}x, peak memory {new['peak'] / old['peak']:.2f}x, "
                  f"above build {(new['peak'] - new['baseline']) / max(old['peak'] - old['baseline'], 1):.2f}x")


def _drop_variants(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if a == "--variants":
            skip = True
            continue
        if skip and not a.startswith("--"):
            continue
        skip = False
        out.append(a)
    return out


if __name__ == "__main__":
    main()
