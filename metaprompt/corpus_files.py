"""Writing an image-caption corpus in the layout GRAM's meta-training reads (see
:mod:`metaprompt.meta.gram.corpus`): a module of its own, importing nothing of the project, so
that the corpus generators (:mod:`metaprompt.meta.gram.synthetic_corpus`,
:mod:`metaprompt.toyworld.corpus`) share it without importing each other::

    OUT_DIR/captions.csv               image_path,caption (paths relative to OUT_DIR)
    OUT_DIR/images/NNNNN.png
    OUT_DIR/shards/NNNNN.tar           (with --shards) key.jpg + key.txt + key.json, as img2dataset
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from typing import Callable

from PIL import Image

Sampler = Callable[[int, int], "list[tuple[Image.Image, str]]"]  # (n_pairs, seed) -> pairs


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # byte-identical shards for the same seed
    tar.addfile(info, io.BytesIO(data))


def write_corpus(out_dir: str, sampler: Sampler, n_pairs: int, seed: int = 0, shards: int = 0) -> None:
    """Write the corpus atomically (a temporary folder renamed into place); refuses to overwrite.

    ``sampler(n_pairs, seed) -> [(PIL image, caption), ...]`` draws the pairs.
    """
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f"{out_dir} already exists and is not empty; choose another folder or delete it.")
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".gram-corpus-", dir=parent)
    try:
        pairs = sampler(n_pairs, seed)
        os.makedirs(os.path.join(tmp, "images"))
        with open(os.path.join(tmp, "captions.csv"), "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["image_path", "caption"])
            for i, (img, caption) in enumerate(pairs):
                rel = f"images/{i:05d}.png"
                img.save(os.path.join(tmp, rel))
                writer.writerow([rel, caption])
        if shards > 0:
            os.makedirs(os.path.join(tmp, "shards"))
            per_shard = -(-n_pairs // shards)
            for s in range(shards):
                with tarfile.open(os.path.join(tmp, "shards", f"{s:05d}.tar"), "w") as tar:
                    for i in range(s * per_shard, min(n_pairs, (s + 1) * per_shard)):
                        img, caption = pairs[i]
                        key = f"{s:05d}{i:04d}"
                        buf = io.BytesIO()
                        img.save(buf, format="JPEG", quality=95)
                        _tar_add(tar, f"{key}.jpg", buf.getvalue())
                        _tar_add(tar, f"{key}.txt", caption.encode("utf-8"))
                        _tar_add(tar, f"{key}.json", json.dumps({"key": key, "caption": caption}).encode("utf-8"))
        if os.path.exists(out_dir):
            os.rmdir(out_dir)  # empty (checked above)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def corpus_main(argv: list[str] | None, sampler: Sampler, default_pairs: int, what: str) -> int:
    """The command line of a corpus writer; ``sampler`` as in :func:`write_corpus`."""
    p = argparse.ArgumentParser(description=f"Write {what} for GRAM meta-training.")
    p.add_argument("out_dir")
    p.add_argument("--pairs", type=int, default=default_pairs, help="number of image-caption pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shards", type=int, default=0, help="also write this many WebDataset tar shards")
    args = p.parse_args(argv)
    try:
        write_corpus(args.out_dir, sampler, args.pairs, args.seed, args.shards)
    except FileExistsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Wrote {args.pairs} pairs of {what} to {args.out_dir}")
    return 0
