"""Published base-to-new numbers (``metaprompt/data/published_results.csv``, shipped with the package).

The CSV has ``method,dataset,base,new,hm`` with the papers' dataset names and an ``average`` row per
method; an empty cell means the number was not retrievable. Lines starting with ``#`` are notes.
"""
from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

from .catalog import folder_name

AVERAGE = "average"
METRICS = {"Base": "base", "New": "new", "HM": "hm"}  # table column -> CSV column


@lru_cache(maxsize=1)
def load_published() -> dict[str, dict[str, dict[str, float | None]]]:
    """``{method: {dataset folder or "average": {"Base": x, "New": y, "HM": z}}}`` (``None`` = not published)."""
    text = resources.files("metaprompt").joinpath("data/published_results.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("".join(line for line in text.splitlines(True) if not line.startswith("#"))))
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for row in rows:
        name = row["dataset"].strip()
        key = AVERAGE if name == AVERAGE else folder_name(name)
        if key is None:
            raise ValueError(f"published_results.csv: unknown dataset name {name!r}")
        out.setdefault(row["method"].strip(), {})[key] = {
            col: (float(row[field]) if row[field].strip() else None) for col, field in METRICS.items()
        }
    return out


def published_methods() -> list[str]:
    return list(load_published())
