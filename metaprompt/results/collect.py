"""Find the runs under an output root and read their results.

Layout (see ``catalog.SETTINGS``): ``<root>/<subtree>/<dataset>/shots_<K>/<TRAINER>/<CFG>/seed<S>/``.
A seed folder is a run; it is *finished* when one of its logs reports a test result.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .logparse import RunResult, read_run

_SHOTS = re.compile(r"^shots_(\d+)$")
_SEED = re.compile(r"^seed(\d+)$")


@dataclass(frozen=True)
class Run:
    subtree: str
    dataset: str
    shots: int
    trainer: str
    cfg: str
    seed: int
    result: RunResult

    @property
    def path(self) -> str:
        return self.result.path


def _subdirs(path: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def find_runs(root: str, subtree: str) -> list[Run]:
    """Every seed folder under ``<root>/<subtree>``, in a stable order."""
    runs = []
    top = os.path.join(root, subtree)
    for dataset in _subdirs(top):
        for shots_dir in _subdirs(os.path.join(top, dataset)):
            m = _SHOTS.match(shots_dir)
            if not m:
                continue
            for trainer in _subdirs(os.path.join(top, dataset, shots_dir)):
                for cfg in _subdirs(os.path.join(top, dataset, shots_dir, trainer)):
                    cfg_dir = os.path.join(top, dataset, shots_dir, trainer, cfg)
                    for seed_dir in _subdirs(cfg_dir):
                        s = _SEED.match(seed_dir)
                        if s:
                            runs.append(Run(subtree, dataset, int(m.group(1)), trainer, cfg, int(s.group(1)),
                                            read_run(os.path.join(cfg_dir, seed_dir))))
    return runs
