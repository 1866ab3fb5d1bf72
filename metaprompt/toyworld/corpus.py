"""An image-caption corpus of the toy world, for GRAM's meta-training (its "web data").

Pairs come from the pretraining distribution (:func:`.captions.sample_scene`, so the held-out
colour-shape pairs never occur), drawn from their own seed, and are written in the layout GRAM
reads (``captions.csv`` + ``images/``; written by :mod:`metaprompt.corpus_files`).

    python -m metaprompt.toyworld.corpus OUT_DIR [--pairs 3000] [--seed 0] [--shards N]
"""
from __future__ import annotations

import sys

import numpy as np
from PIL import Image

from metaprompt.corpus_files import corpus_main

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
    return corpus_main(argv, toy_pairs, default_pairs=3000, what="the toy world's image-caption corpus")


if __name__ == "__main__":
    sys.exit(main())
