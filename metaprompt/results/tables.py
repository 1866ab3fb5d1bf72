"""Results tables of the sweeps, side by side with the published numbers.

    python -m metaprompt.results.tables OUTPUT_ROOT [--setting base2new|xd|dg|fewshot]
        [--format terminal|markdown|csv|json|summary] [--figure out.png] [--trainer T] [--cfg C]
        [--shots K] [--seeds 1 2 3] [--datasets D ...] [--compare METHOD ...] [--out FILE] [--strict]

Rules (the CoOp family's, see docs/benchmark.md):
- a dataset's accuracy is the mean over seeds with the *population* standard deviation (numpy's
  ``std``, ddof=0), as the family's ``parse_test_res.py``;
- base-to-new HM = 2*B*N/(B+N) of the seed-mean Base and New;
- the average row: base-to-new, the HM of the averaged Base and averaged New over the 11
  datasets (not the mean of per-dataset HMs); cross-dataset, domain generalization and few-shot,
  the mean over the protocol's target datasets. It is computed only when every one of those
  datasets has all its seeds finished; otherwise it is flagged with what is missing;
- a missing run (no seed folder) or an unfinished one (logs without a test result) is never
  averaged silently: the cell shows how many seeds it holds, e.g. ``(2/3)``, and the run is listed.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from .catalog import PROTOCOL_SEEDS, SETTINGS, Setting, paper_name, run_path
from .collect import Run, find_runs
from .logparse import backbone_note, harmonic_mean
from .published import AVERAGE, load_published
from .table_types import Cell, Problem, Row, Table

__all__ = ["Cell", "FORMATS", "Problem", "Row", "Table", "build_tables", "main"]

FORMATS = ("terminal", "markdown", "csv", "json", "summary")  # summary: every method in one table
STD_NOTE = "± is the population standard deviation over seeds (numpy.std, ddof=0), as the CoOp-family parse scripts"


# -- building ---------------------------------------------------------------------------------
def seed_cell(runs: dict[int, Run], seeds: tuple[int, ...], dataset: str, column: str,
              expected_path) -> tuple[Cell, list[Problem]]:
    """Mean and population std over the finished runs among ``seeds``; the others become problems."""
    values, problems = {}, []
    for seed in seeds:
        run = runs.get(seed)
        if run is None:
            problems.append(Problem(dataset, column, seed, "missing", expected_path(seed)))
        elif not run.result.finished:
            problems.append(Problem(dataset, column, seed, "unfinished", run.path))
        else:
            values[seed] = run.result.accuracy
    arr = np.array(list(values.values()), dtype=float)
    mean = float(arr.mean()) if arr.size else None
    std = float(arr.std()) if arr.size else None  # population std, ddof=0 (numpy's default)
    return Cell(mean, std, values, len(seeds), complete=not problems), problems


def dataset_order(names, preferred: tuple[str, ...]) -> list[str]:
    rank = {name: i for i, name in enumerate(preferred)}
    return sorted(set(names), key=lambda n: (n not in rank, rank.get(n, 0), n))


def average_cell(cells: list[Cell | None]) -> Cell:
    if all(c is not None and c.complete and c.mean is not None for c in cells):
        return Cell(float(np.mean([c.mean for c in cells])), derived=True)
    return Cell(None, complete=False, derived=True)


def average_note(setting: Setting, rows: dict[str, Row], columns: list[str]) -> str:
    needed = setting.average_over
    missing = [d for d in needed if d not in rows]
    incomplete = [d for d in needed if d in rows and not all(rows[d].cells[c].complete for c in columns)]
    if not missing and not incomplete:
        return ""
    parts = []
    if missing:
        parts.append("no runs for " + ", ".join(missing))
    if incomplete:
        parts.append("incomplete " + ", ".join(incomplete))
    return f"not computed: needs all {len(needed)} datasets complete ({'; '.join(parts)})"


class _Builder:
    def __init__(self, root: str, setting: Setting, seeds: tuple[int, ...] | None, compare: list[str]):
        self.root, self.setting, self.seeds_arg, self.compare = root, setting, seeds, compare
        self.published = load_published()

    def seeds_for(self, runs: list[Run]) -> tuple[int, ...]:
        return self.seeds_arg or tuple(sorted({r.seed for r in runs}))

    def published_row(self, key: str, columns: list[str]) -> dict[str, dict[str, float | None]]:
        return {m: {c: self.published.get(m, {}).get(key, {}).get(c) for c in columns} for m in self.compare}

    def published_average(self, columns: list[str]) -> dict[str, dict[str, float | None]]:
        """The papers' average row, only beside an average over the same datasets as theirs."""
        if self.setting.average_over != SETTINGS[self.setting.name].average_over:
            return {m: {c: None for c in columns} for m in self.compare}
        return self.published_row(AVERAGE, columns)

    def cells_for(self, runs: list[Run], dataset: str, column: str, subtree: str, shots: int, trainer: str,
                  cfg: str, seeds: tuple[int, ...], problems: list[Problem]) -> Cell:
        by_seed = {r.seed: r for r in runs if r.dataset == dataset and r.subtree == subtree and r.shots == shots}
        cell, found = seed_cell(by_seed, seeds, dataset, column,
                                lambda s: run_path(self.root, subtree, dataset, shots, trainer, cfg, s))
        problems.extend(found)
        return cell

    def base2new(self, trainer: str, cfg: str, shots: int, runs: list[Run]) -> Table:
        base_g, new_g = self.setting.groups
        seeds = self.seeds_for(runs)
        problems: list[Problem] = []
        rows: dict[str, Row] = {}
        for ds in dataset_order({r.dataset for r in runs}, self.setting.average_over):
            b = self.cells_for(runs, ds, "Base", base_g.subtree, shots, trainer, cfg, seeds, problems)
            n = self.cells_for(runs, ds, "New", new_g.subtree, shots, trainer, cfg, seeds, problems)
            hm = Cell(harmonic_mean(b.mean, n.mean) if b.mean is not None and n.mean is not None else None,
                      complete=b.complete and n.complete, derived=True)
            rows[ds] = Row(ds, paper_name(ds), "dataset", {"Base": b, "New": n, "HM": hm},
                           self.published_row(ds, ["Base", "New", "HM"]))
        needed = [rows.get(d) for d in self.setting.average_over]
        avg_b = average_cell([r.cells["Base"] if r else None for r in needed])
        avg_n = average_cell([r.cells["New"] if r else None for r in needed])
        avg_hm = Cell(harmonic_mean(avg_b.mean, avg_n.mean) if avg_b.complete and avg_n.complete else None,
                      complete=avg_b.complete and avg_n.complete, derived=True)
        average = Row(AVERAGE, f"Average ({len(self.setting.average_over)} datasets)", "average",
                      {"Base": avg_b, "New": avg_n, "HM": avg_hm}, self.published_average(["Base", "New", "HM"]),
                      average_note(self.setting, rows, ["Base", "New"]))
        notes = [f"HM = 2*B*N/(B+N) of the seed means; the average row's HM is the HM of the averaged "
                 f"Base and averaged New over the {len(self.setting.average_over)} datasets"]
        return self.finish(trainer, cfg, shots, seeds, ["Base", "New", "HM"], list(rows.values()) + [average],
                           problems, runs, notes)

    def transfer(self, trainer: str, cfg: str, shots: int, runs: list[Run]) -> Table:
        """Cross-dataset / domain generalization: source row(s), then the targets and their average."""
        source_g, target_g = self.setting.groups
        seeds = self.seeds_for(runs)
        problems: list[Problem] = []
        out: list[Row] = []
        targets: dict[str, Row] = {}
        for group, role in ((source_g, "source"), (target_g, "dataset")):
            names = {r.dataset for r in runs if r.subtree == group.subtree}
            for ds in dataset_order(names, self.setting.average_over):
                cell = self.cells_for(runs, ds, "Accuracy", group.subtree, shots, trainer, cfg, seeds, problems)
                label = f"{paper_name(ds)} (source)" if role == "source" else paper_name(ds)
                row = Row(ds, label, role, {"Accuracy": cell})
                out.append(row)
                if role == "dataset":
                    targets[ds] = row
        avg = average_cell([targets[d].cells["Accuracy"] if d in targets else None for d in self.setting.average_over])
        out.append(Row(AVERAGE, f"Average ({len(self.setting.average_over)} targets)", "average", {"Accuracy": avg},
                       note=average_note(self.setting, targets, ["Accuracy"])))
        notes = ["published_results.csv holds base-to-new numbers only: no published column here"]
        return self.finish(trainer, cfg, shots, seeds, ["Accuracy"], out, problems, runs, notes)

    def fewshot(self, trainer: str, cfg: str, runs: list[Run]) -> Table:
        (group,) = self.setting.groups
        seeds = self.seeds_for(runs)
        shot_values = sorted({r.shots for r in runs})
        columns = [f"{k}-shot" for k in shot_values]
        problems: list[Problem] = []
        rows: dict[str, Row] = {}
        for ds in dataset_order({r.dataset for r in runs}, self.setting.average_over):
            cells = {col: self.cells_for(runs, ds, col, group.subtree, k, trainer, cfg, seeds, problems)
                     for col, k in zip(columns, shot_values)}
            rows[ds] = Row(ds, paper_name(ds), "dataset", cells)
        avg_cells, notes_per_col = {}, []
        for col in columns:
            avg_cells[col] = average_cell([rows[d].cells[col] if d in rows else None for d in self.setting.average_over])
            note = average_note(self.setting, rows, [col])
            if note:
                notes_per_col.append(f"{col}: {note}")
        average = Row(AVERAGE, f"Average ({len(self.setting.average_over)} datasets)", "average", avg_cells,
                      note="; ".join(notes_per_col))
        notes = ["published_results.csv holds base-to-new numbers only: no published column here"]
        return self.finish(trainer, cfg, None, seeds, columns, list(rows.values()) + [average], problems, runs, notes)

    def finish(self, trainer, cfg, shots, seeds, columns, rows, problems, runs, notes) -> Table:
        notes = [STD_NOTE] + notes
        if tuple(seeds) != PROTOCOL_SEEDS:
            notes.append(f"these runs use seed(s) {', '.join(map(str, seeds))}; the protocol averages seeds "
                         f"{', '.join(map(str, PROTOCOL_SEEDS))}")
        extra = [r.label for r in rows if r.role != "average" and r.dataset not in self.setting.average_over
                 and r.role != "source"]
        if extra:
            notes.append(f"not benchmark datasets of this setting (left out of the average): {', '.join(extra)}")
        backbones = sorted({r.result.backbone for r in runs if r.result.finished and r.result.backbone})
        for bb in backbones:
            note = backbone_note(bb)
            if note:
                notes.append(note)
            elif bb != "ViT-B/16" and self.compare:
                notes.append(f"backbone {bb}: the published numbers are for CLIP ViT-B/16")
        artefacts = sorted({r.result.gram_artefact for r in runs if r.result.finished and r.result.gram_artefact})
        if artefacts:  # which meta-training the GRAM numbers come from
            notes.append(f"GRAM artefact{'s' if len(artefacts) > 1 else ''}: {'; '.join(artefacts)}")
        wrapped = sorted({r.result.base_learner for r in runs if r.result.finished and r.result.base_learner})
        if len(wrapped) > 1:
            notes.append(f"these runs wrap different base learners ({', '.join(wrapped)}): not compared with one")
        if self.compare and self.setting.name == "base2new":
            notes.append("published: the method papers' numbers (published_results.csv, ViT-B/16, 16 shots, "
                         "seeds 1-3); '—' where a number is not available")
        return Table(self.setting.name, trainer, cfg, shots, tuple(seeds), columns, rows,
                     self.compare if self.setting.name == "base2new" else [], problems, notes,
                     wrapped[0] if len(wrapped) == 1 else None)


def build_tables(root: str, setting: str = "base2new", trainer: str | None = None,
                 cfg: str | tuple[str, ...] | None = None, shots: int | None = None,
                 seeds: tuple[int, ...] | None = None,
                 compare: list[str] | None = None, datasets: tuple[str, ...] | None = None) -> list[Table]:
    """One table per (trainer, recipe[, shots]) found under ``root`` for ``setting``.

    ``compare``: published methods to put beside the results; ``None`` compares with the trainer's
    own published numbers when the CSV has them. ``datasets``: only these datasets (targets, for
    xd and dg), and the average row is over them instead of the benchmark's list.
    """
    spec = SETTINGS[setting]
    runs = [r for g in spec.groups for r in find_runs(root, g.subtree)]
    if datasets:
        spec = dataclasses.replace(spec, average_over=tuple(datasets))
        sources = {g.subtree for g in spec.groups if g.role == "source"}
        runs = [r for r in runs if r.dataset in datasets or r.subtree in sources]
    cfgs = (cfg,) if isinstance(cfg, str) else cfg  # one recipe or several
    runs = [r for r in runs if (trainer is None or r.trainer == trainer) and (cfgs is None or r.cfg in cfgs)
            and (shots is None or r.shots == shots)]
    if spec.name == "fewshot":
        keys = sorted({(r.trainer, r.cfg) for r in runs})
    else:
        keys = sorted({(r.trainer, r.cfg, r.shots) for r in runs})
    published = load_published()
    tables = []
    for key in keys:
        group = [r for r in runs if (r.trainer, r.cfg) == key[:2] and (len(key) == 2 or r.shots == key[2])]
        methods = compare if compare is not None else ([key[0]] if key[0] in published else [])
        b = _Builder(root, spec, seeds, methods)
        if spec.name == "base2new":
            tables.append(b.base2new(key[0], key[1], key[2], group))
        elif spec.name == "fewshot":
            tables.append(b.fewshot(key[0], key[1], group))
        else:
            tables.append(b.transfer(key[0], key[1], key[2], group))
    return tables


# -- command line -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m metaprompt.results.tables",
                                description="Tables of the sweep results (mean ± std over seeds, HM, averages), "
                                            "beside the published numbers.")
    p.add_argument("root", metavar="OUTPUT_ROOT", help="the sweeps' output folder (holds base2new/, xd/, dg/, fewshot/)")
    p.add_argument("--setting", choices=tuple(SETTINGS), default="base2new")
    p.add_argument("--format", choices=FORMATS, default="terminal")
    p.add_argument("--figure", metavar="PNG", help="also write a figure (per-dataset HM or accuracy) to this file")
    p.add_argument("--trainer", help="only this trainer (default: every trainer found, one table each)")
    p.add_argument("--cfg", nargs="+", help="only these recipes (default: every recipe found)")
    p.add_argument("--shots", type=int, help="only runs with this many shots")
    p.add_argument("--seeds", type=int, nargs="+", help="the seeds each cell should hold "
                   "(default: every seed found for the trainer and recipe)")
    p.add_argument("--datasets", nargs="+", metavar="DATASET",
                   help="only these datasets (targets for xd/dg); the average row is over them "
                        "(default: the benchmark's datasets, e.g. the 11 of base-to-new)")
    p.add_argument("--compare", nargs="*", metavar="METHOD",
                   help="published methods to show beside the results (default: the trainer's own, when published)")
    p.add_argument("--out", metavar="FILE", help="write the table to FILE instead of standard output")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any run is missing or unfinished")
    return p


def main(argv: list[str] | None = None) -> int:
    from .render import render  # only the command line renders (tabulate is loaded on use)

    args = build_parser().parse_args(argv)
    if args.compare:
        unknown = [m for m in args.compare if m not in load_published()]
        if unknown:
            print(f"error: no published numbers for {', '.join(unknown)}; available: "
                  f"{', '.join(load_published())}", file=sys.stderr)
            return 2
    compare = args.compare
    if compare is None and args.format == "summary":
        compare = []  # the summary has no published columns
    cfgs = tuple(args.cfg) if args.cfg else None
    tables = build_tables(args.root, args.setting, args.trainer, cfgs, args.shots,
                          tuple(args.seeds) if args.seeds else None, compare,
                          tuple(args.datasets) if args.datasets else None)
    if not tables:
        groups = " and ".join(f"{args.root}/{g.subtree}/<dataset>/shots_<K>/<TRAINER>/<CFG>/seed<S>/"
                              for g in SETTINGS[args.setting].groups)
        cfg_filter = " ".join(cfgs) if cfgs else None
        filters = ", ".join(f"{k}={v}" for k, v in (("trainer", args.trainer), ("cfg", cfg_filter),
                                                     ("shots", args.shots)) if v is not None)
        print(f"error: no {args.setting} runs found{' for ' + filters if filters else ''}; expected {groups}",
              file=sys.stderr)
        return 1
    text = render(tables, args.format)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if args.figure:
        from .figure import save_figure

        save_figure(tables, args.figure)
        print(f"Figure: {args.figure}", file=sys.stderr if not args.out else sys.stdout)
    if args.strict and not all(t.complete for t in tables):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
