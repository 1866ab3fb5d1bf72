"""A PNG of the tables: per-dataset HM (base-to-new) or accuracy, beside the published numbers.

Grouped bars per dataset row: this project's result (hatched when some seeds are missing, absent
when there is none), then each compared method's published value (absent when not published).
"""
from __future__ import annotations

import os

from .table_types import Table


def headline_columns(table: Table) -> list[str]:
    return ["HM"] if table.setting == "base2new" else list(table.columns)


def save_figure(tables: list[Table], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tables), 1, figsize=(max(8.0, 0.9 * max(len(t.rows) for t in tables) + 3), 4.2 * len(tables)),
                             squeeze=False)
    for ax, table in zip(axes[:, 0], tables):
        _plot(ax, table)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot(ax, table: Table) -> None:
    columns = headline_columns(table)
    series: list[tuple[str, list[float | None], list[bool]]] = []
    for col in columns:
        name = f"{table.trainer} {col}" if len(columns) > 1 else f"{table.trainer} (this run)"
        values = [row.cells[col].mean for row in table.rows]
        complete = [row.cells[col].complete for row in table.rows]
        series.append((name, values, complete))
    for method in table.compare:
        for col in columns:
            values = [row.published.get(method, {}).get(col) for row in table.rows]
            series.append((f"{method} (published)", values, [True] * len(values)))
    n, width = len(series), 0.8 / max(len(series), 1)
    for i, (name, values, complete) in enumerate(series):
        xs = [j + (i - (n - 1) / 2) * width for j, v in enumerate(values) if v is not None]
        ys = [v for v in values if v is not None]
        hatches = ["//" if not c else "" for v, c in zip(values, complete) if v is not None]
        bars = ax.bar(xs, ys, width, label=name)
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
    ax.set_xticks(range(len(table.rows)))
    ax.set_xticklabels([row.label for row in table.rows], rotation=30, ha="right")
    ax.set_ylabel("HM (%)" if columns == ["HM"] else "accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(table.title + ("  (hatched: incomplete seeds)" if not table.complete else ""))
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    ax.grid(axis="y", alpha=0.3)
