"""An image-caption corpus of the toy world, for GRAM's meta-training (its "web data").

Pairs come from the pretraining distribution (:func:`.captions.sample_scene`, so the held-out
colour-shape pairs never occur), drawn from their own seed, and are written in the layout GRAM
reads (``captions.csv`` + ``images/``; see :mod:`metaprompt.meta.gram.synthetic_corpus`).

    python -m metaprompt.toyworld.corpus OUT_DIR [--pairs 3000] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image

from metaprompt.meta.gram.synthetic_corpus import generate

from .captions import describe, sample_scene
from .render import render

SEED_OFFSET = 7919  # keeps the corpus stream apart from pretraining's (which uses the seed itself)


def toy_pairs(n_pairs: int, seed: int = 0) -> list[tuple[Image.Image, str]]:
    rng = np.random.default_rng(seed + SEED_OFFSET)
    pairs = []
    for _ in range(n_pairs):
        scene = sample_scene(rng)
        pairs.append((Image.fromarray(render(scene, rng)), describe(scene, rng)))
    return pairs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write the toy world's image-caption corpus (for GRAM meta-training).")
    p.add_argument("out_dir")
    p.add_argument("--pairs", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        generate(args.out_dir, args.pairs, args.seed, sampler=toy_pairs)
    except FileExistsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Wrote {args.pairs} toy-world pairs to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
