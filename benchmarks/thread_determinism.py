"""How far CPU runs of one seed drift apart at different torch thread counts, in one run.

    python benchmarks/thread_determinism.py [--epochs 4] [--threads 1 2]

Trains the CoOp smoke recipe (tiny CLIP, Synthetic, 4 shots, seed 1) twice at the first thread
count and once at each other count, each into a fresh temporary folder, and prints the largest
absolute difference of the final prompts against the first run. Same count: expected 0 (bit-identical);
another count: reductions are split differently, so small differences appear and can grow with epochs.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from runs import checkpoint, run_main, train_argv  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    counts = [args.threads[0], *args.threads]
    with tempfile.TemporaryDirectory() as tmp:
        prompts = []
        for i, n in enumerate(counts):
            torch.set_num_threads(n)
            out = os.path.join(tmp, f"run{i}")
            assert run_main(train_argv(os.path.join(tmp, "data"), out, epochs=args.epochs)) == 0
            prompts.append(checkpoint(out, args.epochs)["state_dict"]["prompts.text_ctx"])
    for n, p_ in zip(counts[1:], prompts[1:]):
        print(f"{counts[0]} vs {n} threads ({args.epochs} epochs): max |prompt difference| = "
              f"{(prompts[0] - p_).abs().max().item():.3g}", file=sys.stderr)


if __name__ == "__main__":
    main()
