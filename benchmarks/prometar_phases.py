"""Where a ProMetaR iteration's time goes: Step A and Step B split into their phases.

    python benchmarks/prometar_phases.py --model vitb16-width --threads 1      # 768/512 wide, 12 layers, 32 px
    python benchmarks/prometar_phases.py --model vitb16-width --first-order

Runs the real trainer's ``forward_backward`` (built as in ``prometar_step.py``: one fixed batch,
random weights) and times each call it makes, with each phase's own time excluding the phases
nested in it. A plain IVLP step on the same model is timed in the same process, interleaved with
the ProMetaR iterations, so the ratios hold under a changing machine load. On CUDA every timer
synchronises.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("METAPROMPT_RUNTIME", "builtin")

import prometar_step  # noqa: E402  (the benchmark's trainer builder)

# (phase, what it is) in the order a ProMetaR iteration runs them.
PHASES = [
    ("A: teacher image features", "frozen, prompt-free image encoder (R_img's target)"),
    ("A: forward", "prompted image + text encoders, CE and both regularizers"),
    ("A: g_reg backward", "d(R_text + R_img)/d prompts, graph kept"),
    ("A: g_ce backward + gate + step", "the step's own backward, the gated rewrite, SGD"),
    ("B: support forward", "inner step's losses at theta"),
    ("B: inner gradients", "g_ce and g_reg on the support (create_graph in 2nd order)"),
    ("B: gate", "gamma from (g_ce, g_reg): the gate MLPs"),
    ("B: query forward", "mixed query at theta'"),
    ("B: outer backward + step", "meta loss to prompts and gate (double backward in 2nd order), two SGD steps"),
]


class PhaseClock:
    """Exclusive wall time per phase: time spent in a nested phase is not counted twice."""

    def __init__(self, sync) -> None:
        self.sync, self.totals, self._stack = sync, collections.defaultdict(float), []

    @contextlib.contextmanager
    def phase(self, name: str):
        self.sync()
        now = time.perf_counter()
        if self._stack:  # pause the enclosing phase
            outer, started = self._stack[-1]
            self.totals[outer] += now - started
        self._stack.append([name, now])
        try:
            yield
        finally:
            self.sync()
            now = time.perf_counter()
            inner, started = self._stack.pop()
            self.totals[inner] += now - started
            if self._stack:
                self._stack[-1][1] = now


def instrument(trainer, clock: PhaseClock) -> None:
    """Wrap the calls ``forward_backward`` makes, naming each by the step it belongs to."""
    method = trainer.method
    in_adapt = [False]

    def timed(obj, attr: str, name_of):
        original = getattr(obj, attr)

        def wrapper(*args, **kwargs):
            with clock.phase(name_of()):
                return original(*args, **kwargs)
        setattr(obj, attr, wrapper)

    step = {"n": 0}  # backward_and_update calls: the first of an iteration is Step A's

    def update_name():
        step["n"] += 1
        return "A: g_ce backward + gate + step" if step["n"] % 2 == 1 else "B: outer backward + step"

    original_adapt = method.adapt

    def adapt(*args, **kwargs):
        in_adapt[0] = True
        try:
            return original_adapt(*args, **kwargs)
        finally:
            in_adapt[0] = False
    method.adapt = adapt
    timed(method, "image_teacher", lambda: "A: teacher image features")
    timed(method, "losses", lambda: "B: support forward" if in_adapt[0] else "A: forward")
    timed(method, "regularizer_gradients", lambda: "B: inner gradients" if in_adapt[0] else "A: g_reg backward")
    timed(method, "task_and_regularizer_gradients", lambda: "B: inner gradients")
    timed(method, "query_loss", lambda: "B: query forward")
    timed(trainer, "backward_and_update", update_name)
    gate_forward = trainer.gate.forward

    def gate(*args, **kwargs):
        if not in_adapt[0]:  # Step A's gate runs inside the step's backward hook
            return gate_forward(*args, **kwargs)
        with clock.phase("B: gate"):
            return gate_forward(*args, **kwargs)
    trainer.gate.forward = gate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(prometar_step.MODELS), default="tiny")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--iters", type=int, default=6)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--first-order", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--prec", default="fp32")
    args = p.parse_args()
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    common = dict(model=args.model, base="IVLP", size=args.size, classes=args.classes, batch=args.batch,
                  device=args.device, prec=args.prec, step_a_only=False)
    meta_variant = "prometar-1st" if args.first_order else "prometar-2nd"
    plain, plain_batch = prometar_step.build_trainer(argparse.Namespace(**common), "plain")
    meta, meta_batch = prometar_step.build_trainer(argparse.Namespace(**common), meta_variant)
    clock = PhaseClock(sync)
    instrument(meta, clock)
    plain_times, meta_times = [], []
    for i in range(args.warmup + args.iters):
        for trainer, batch, times in ((plain, plain_batch, plain_times), (meta, meta_batch, meta_times)):
            if i == args.warmup and trainer is meta:
                clock.totals.clear()  # warm-up iterations are not counted
            sync()
            start = time.perf_counter()
            with sdpa_kernel(SDPBackend.MATH):  # as prometar_step.py's default: one attention for both
                trainer.forward_backward(batch)
            sync()
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
    plain_s, meta_s = statistics.median(plain_times), statistics.median(meta_times)
    per_iter = {name: clock.totals[name] / args.iters for name, _ in PHASES}
    covered = sum(per_iter.values())
    print(f"model {args.model} ({args.size} px), IVLP 4+4, {args.classes} classes, batch {args.batch}, "
          f"{args.device}, {args.prec}, math attention, threads {args.threads or 'default'}, "
          f"{'first' if args.first_order else 'second'} order, {args.iters} iterations after {args.warmup} warm-up")
    print(f"plain IVLP step {plain_s:.3f} s (median); ProMetaR step {meta_s:.3f} s = {meta_s / plain_s:.2f}x plain")
    print(f"{'phase':<34}{'s/iter':>8}{'x plain':>9}{'share':>8}  what")
    for name, what in PHASES:
        s = per_iter[name]
        print(f"{name:<34}{s:>8.3f}{s / plain_s:>9.2f}{s / covered:>8.1%}  {what}")
    print(f"{'(timed phases, mean per iteration)':<34}{covered:>8.3f}{covered / plain_s:>9.2f}")


if __name__ == "__main__":
    main()
