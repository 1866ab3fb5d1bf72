"""Write result tables as a terminal table, Markdown, CSV (long format) or JSON."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from tabulate import tabulate

from ..learners.registry import learner_names
from .stats import PAIRED_NOTE, compare_with_base
from .table_types import Cell, Table

DASH = "—"


def cell_text(cell: Cell) -> str:
    """``76.20 ± 0.45``; an incomplete cell says how many seeds it holds: ``76.20 ± 0.45 (2/3)``."""
    if cell.derived:
        if cell.mean is None:
            return "n/a"
        return f"{cell.mean:.2f}" + ("" if cell.complete else " (partial)")
    held = f"({len(cell.values)}/{cell.expected})"
    if cell.mean is None:
        return f"{DASH} {held}"
    text = f"{cell.mean:.2f} ± {cell.std:.2f}"
    return text if cell.complete else f"{text} {held}"


def _number(x: float | None) -> str:
    return DASH if x is None else f"{x:.2f}"


def grid(table: Table) -> tuple[list[str], list[list[str]]]:
    headers = ["Dataset"] + table.columns
    for m in table.compare:
        headers += [f"{m} {c}" for c in table.columns] + [f"ΔHM vs {m}"]
    rows = []
    for row in table.rows:
        line = [row.label] + [cell_text(row.cells[c]) for c in table.columns]
        for m in table.compare:
            pub = row.published.get(m, {})
            line += [_number(pub.get(c)) for c in table.columns]
            ours = row.cells.get("HM")
            if ours is not None and ours.mean is not None and pub.get("HM") is not None:
                delta = f"{ours.mean - pub['HM']:+.2f}"
                line.append(delta if ours.complete else f"{delta} (partial)")
            else:
                line.append(DASH)
        rows.append(line)
    return headers, rows


def _remarks(table: Table) -> tuple[list[str], list[str]]:
    notes = list(table.notes)
    notes += [f"{row.label}: {row.note}" for row in table.rows if row.note]
    return notes, [p.describe() for p in table.problems]


def to_terminal(tables: list[Table]) -> str:
    out = []
    for t in tables:
        headers, rows = grid(t)
        out.append(f"== {t.title} ==")
        out.append(tabulate(rows, headers, tablefmt="simple", disable_numparse=True))
        notes, problems = _remarks(t)
        if problems:
            out.append("Missing or unfinished runs (not averaged):")
            out += [f"  - {p}" for p in problems]
        out.append("Notes:")
        out += [f"  - {n}" for n in notes]
        out.append("")
    out += paired_section(tables, lambda t: f"{t.trainer} ({t.cfg})")
    return "\n".join(out)


def to_markdown(tables: list[Table]) -> str:
    out = []
    for t in tables:
        headers, rows = grid(t)
        out += [f"### {t.title}", "", tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
        notes, problems = _remarks(t)
        if problems:
            out += ["**Missing or unfinished runs (not averaged):**", ""] + [f"- {p}" for p in problems] + [""]
        out += [f"- {n}" for n in notes] + [""]
    out += paired_section(tables, lambda t: f"{t.trainer} ({t.cfg})")
    return "\n".join(out)


CSV_FIELDS = ["setting", "trainer", "cfg", "shots", "dataset", "label", "column", "source", "mean", "std",
              "n_seeds", "expected_seeds", "complete", "missing_seeds", "per_seed"]


def to_csv(tables: list[Table]) -> str:
    """One line per (table, row, column, source); ``source`` is ``ours`` or a published method."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for t in tables:
        for row in t.rows:
            for col in t.columns:
                cell = row.cells[col]
                base = dict(setting=t.setting, trainer=t.trainer, cfg=t.cfg, shots="" if t.shots is None else t.shots,
                            dataset=row.dataset, label=row.label, column=col)
                missing = [] if cell.derived else [s for s in t.seeds if s not in cell.values]
                w.writerow(dict(base, source="ours", mean="" if cell.mean is None else round(cell.mean, 4),
                                std="" if cell.std is None else round(cell.std, 4),
                                n_seeds="" if cell.derived else len(cell.values),
                                expected_seeds="" if cell.derived else cell.expected, complete=cell.complete,
                                missing_seeds=" ".join(map(str, missing)),
                                per_seed=" ".join(f"{s}:{v}" for s, v in sorted(cell.values.items()))))
                for m in t.compare:
                    value = row.published.get(m, {}).get(col)
                    w.writerow(dict(base, source=m, mean="" if value is None else value))
    return buf.getvalue()


def to_json(tables: list[Table]) -> str:
    data = []
    for t in tables:
        d = asdict(t)
        d["title"] = t.title
        d["complete"] = t.complete
        for p, desc in zip(d["problems"], t.problems):
            p["description"] = desc.describe()
        data.append(d)
    return json.dumps({"tables": data}, indent=2, ensure_ascii=False) + "\n"


# Methods in the order the papers' tables list them (the learner registry's, then the meta methods);
# others follow alphabetically.
METHOD_ORDER = (*learner_names(), "ProMetaR", "GRAM")


def _method_rank(table: Table) -> tuple:
    known = table.trainer in METHOD_ORDER
    return (not known, METHOD_ORDER.index(table.trainer) if known else 0, table.trainer, table.cfg)


def to_summary(tables: list[Table]) -> str:
    """All methods in one Markdown table, grouped by dataset: the side-by-side comparison."""
    tables = sorted(tables, key=_method_rank)
    several_cfgs = len({t.trainer for t in tables}) < len(tables)
    labels = [f"{t.trainer} ({t.cfg})" if several_cfgs else t.trainer for t in tables]
    columns = tables[0].columns if tables else []
    order: list[tuple[str, str]] = []  # (dataset, label) in first-seen order, the average last
    for t in tables:
        for row in t.rows:
            if (row.dataset, row.label) not in order:
                order.append((row.dataset, row.label))
    order.sort(key=lambda key: key[0] == "average")
    if sum(dataset != "average" for dataset, _ in order) == 1:  # one dataset: its average says nothing new
        order = [key for key in order if key[0] != "average"]
    rows = []
    for dataset, label in order:
        for t, method in zip(tables, labels):
            row = next((r for r in t.rows if r.dataset == dataset), None)
            if row is not None:
                rows.append([label, method] + [cell_text(row.cells[c]) for c in columns])
    out = [tabulate(rows, ["Dataset", "Method"] + columns, tablefmt="github", disable_numparse=True), ""]
    out += paired_section(tables, lambda t: labels[tables.index(t)])
    problems = [f"{t.trainer}: {p.describe()}" for t in tables for p in t.problems]
    if problems:
        out += ["**Missing or unfinished runs (not averaged):**", ""] + [f"- {p}" for p in problems] + [""]
    notes = list(dict.fromkeys(n for t in tables for n in t.notes))  # shared notes once
    out += [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


def paired_section(tables: list[Table], label=lambda t: t.trainer) -> list[str]:
    """Markdown lines: each meta method against its base learner (metaprompt.results.stats)."""
    comparisons, notes = compare_with_base(tables, label)
    if not comparisons and not notes:
        return []
    out = ["**Paired differences against the base learner (95% interval over seeds):**", ""]
    if comparisons:
        rows = [[c.dataset, f"{c.method} − {c.base}", c.diffs["New"].text(), c.diffs["HM"].text(),
                 " ".join(map(str, c.diffs["New"].seeds))] for c in comparisons]
        out += [tabulate(rows, ["Dataset", "Comparison", "Δ New", "Δ HM", "Paired seeds"], tablefmt="github",
                         disable_numparse=True), ""]
    out += [f"- {n}" for n in [PAIRED_NOTE, *notes]] + [""]
    return out


def render(tables: list[Table], fmt: str) -> str:
    return {"terminal": to_terminal, "markdown": to_markdown, "csv": to_csv, "json": to_json,
            "summary": to_summary}[fmt](tables)
