"""Cost of reading ImageNet-sized dataset caches safely, side by side in one run.

    python benchmarks/dataset_cache_read.py [--n 1281167]

Writes N Dassl-style ``Datum`` records (as Dassl's ``preprocessed.pkl``) and the same lists as our
``preprocessed.json`` into a temporary folder, then times: plain ``pickle.load`` (what the
reference does; executes whatever the file says), our restricted unpickler alone, the full safe
read (unpickler + path remapping + runtime ``Datum``), and the JSON read. Prints seconds and the
ratio to plain ``pickle.load``. No files need to exist for the images.
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
import types

os.environ.setdefault("METAPROMPT_RUNTIME", "builtin")

from metaprompt.datasets.base import read_lists_json, write_json_atomic  # noqa: E402
from metaprompt.datasets.legacy_cache import load_dassl_pickle, read_dassl_lists  # noqa: E402

MODULE = "dassl.data.datasets.base_dataset"


def dassl_datum_class():
    class Datum:
        def __init__(self, impath="", label=0, domain=0, classname=""):
            self._impath, self._label, self._domain, self._classname = impath, label, domain, classname

    Datum.__module__, Datum.__qualname__ = MODULE, "Datum"
    module = types.ModuleType(MODULE)
    module.Datum = Datum
    for name in ("dassl", "dassl.data", "dassl.data.datasets"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules[MODULE] = module
    return Datum


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1281167, help="records in the train list (ImageNet: 1,281,167)")
    args = parser.parse_args()
    Datum = dassl_datum_class()
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "old", "imagenet", "images")
        new = os.path.join(tmp, "new", "imagenet", "images")
        triples = [(f"train/n{i // 1281:08d}/n{i // 1281:08d}_{i}.JPEG", i // 1281, f"class {i // 1281}")
                   for i in range(args.n)]
        pkl, js = os.path.join(tmp, "preprocessed.pkl"), os.path.join(tmp, "preprocessed.json")
        with open(pkl, "wb") as f:
            pickle.dump({"train": [Datum(os.path.join(old, p), y, 0, c) for p, y, c in triples]}, f,
                        protocol=pickle.HIGHEST_PROTOCOL)
        write_json_atomic({"train": [list(t) for t in triples]}, js, compact=True)

        def plain():
            with open(pkl, "rb") as f:
                pickle.load(f)

        rows = [("pickle.load (unsafe, reference)", timed(plain)),
                ("restricted unpickler only", timed(lambda: load_dassl_pickle(pkl))),
                ("safe read + remap + Datum", timed(lambda: read_dassl_lists(pkl, new, ("train",)))),
                ("our preprocessed.json + Datum", timed(lambda: read_lists_json(js, new, ("train",))))]
        print(f"records: {args.n:,}; pickle {os.path.getsize(pkl) / 1e6:.1f} MB, json {os.path.getsize(js) / 1e6:.1f} MB")
        for name, seconds in rows:
            print(f"{name:34s} {seconds:7.2f} s  x{seconds / rows[0][1]:.2f}")


if __name__ == "__main__":
    main()
