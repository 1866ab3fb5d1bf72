"""Logging, seeding and file helpers with Dassl's names."""
from __future__ import annotations

import json
import os
import random
import sys
import time

import numpy as np
import torch


class _Tee:
    """Writes everything printed to the console and to a log file."""

    def __init__(self, fpath: str) -> None:
        self.console = sys.stdout
        self.file = open(fpath, "a", encoding="utf-8", buffering=1)  # line-buffered: a killed run keeps its log

    def write(self, msg: str) -> None:
        self.console.write(msg)
        self.file.write(msg)

    def flush(self) -> None:
        self.console.flush()
        self.file.flush()
        os.fsync(self.file.fileno())

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        self.file.close()


def setup_logger(output: str | None = None) -> None:
    """Tee stdout into ``<output>/log.txt``, appending to an existing log.

    Dassl starts a time-stamped sibling instead; appending keeps a resumed or repeated run's
    result in ``log.txt``, where the sweep scripts and parsers look for it.
    """
    if not output:
        return
    fpath = output if output.endswith((".txt", ".log")) else os.path.join(output, "log.txt")
    mkdir_if_missing(os.path.dirname(fpath) or ".")
    if isinstance(sys.stdout, _Tee):
        sys.stdout.close()
        sys.stdout = sys.stdout.console
    sys.stdout = _Tee(fpath)
    if os.path.getsize(fpath) > 0:
        print(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')}: new run appended to this log =====")


def set_random_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def collect_env_info() -> str:
    import platform

    import torchvision

    lines = [
        f"Python: {platform.python_version()}",
        f"PyTorch: {torch.__version__}",
        f"Torchvision: {torchvision.__version__}",
        f"CUDA available: {torch.cuda.is_available()}",
        f"Platform: {platform.platform()}",
    ]
    if torch.cuda.is_available():
        lines.append(f"GPU: {torch.cuda.get_device_name(0)}")
    return "\n".join(lines)


def mkdir_if_missing(dirname: str) -> None:
    os.makedirs(dirname, exist_ok=True)


def listdir_nohidden(path: str, sort: bool = False) -> list[str]:
    items = [f for f in os.listdir(path) if not f.startswith(".")]
    return sorted(items) if sort else items


def check_isfile(fpath: str) -> bool:
    return os.path.isfile(fpath)


def read_json(fpath: str):
    with open(fpath, encoding="utf-8") as f:
        return json.load(f)


def write_json(obj, fpath: str) -> None:
    mkdir_if_missing(os.path.dirname(fpath) or ".")
    tmp = fpath + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=4, separators=(",", ": "))
    os.replace(tmp, fpath)


class AverageMeter:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.val = self.avg = self.sum = 0.0
        self.count = 0

    def update(self, val: float, n: int = 1) -> None:
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count


class MetricMeter:
    def __init__(self, delimiter: str = " ") -> None:
        self.meters: dict[str, AverageMeter] = {}
        self.delimiter = delimiter

    def update(self, input_dict: dict) -> None:
        for k, v in input_dict.items():
            if isinstance(v, torch.Tensor):
                v = v.item()
            self.meters.setdefault(k, AverageMeter()).update(float(v))

    def __str__(self) -> str:
        return self.delimiter.join(f"{k} {m.val:.4f} ({m.avg:.4f})" for k, m in self.meters.items())
