"""Statistics that can carry a claim: paired per-seed differences with a 95% Student-t interval.

A meta method (ProMetaR, GRAM) is compared with the learner it wraps (its ``BASE``, read from the
run's log) on the same datasets and seeds. For every seed both hold, the difference is taken in
New accuracy and in the seed's own HM (``2*B*N/(B+N)`` of that seed's Base and New); the interval
is ``mean ± t(0.975, n-1) * sd / sqrt(n)`` with the sample standard deviation (ddof=1). A method
*beats* its base only where the whole interval is above 0, *loses* where it is below 0; otherwise
the difference is not significant ("n.s."). Fewer than 2 paired seeds give no interval.

Seeds only one side holds are left out of the pairing, and the comparison says which they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .logparse import harmonic_mean
from .table_types import Row, Table

# t(0.975, dof) for dof 1..30 (two-sided 95%), to 6 digits; beyond 30 the Cornish-Fisher expansion
# below is within 1e-5 of the exact quantile.
_T975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
         2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
         2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272)
_Z975 = 1.959964
COLUMNS = ("New", "HM")  # the columns the paired comparison reports


def t_quantile_975(dof: int) -> float:
    """The 0.975 quantile of Student's t with ``dof`` degrees of freedom (``dof >= 1``)."""
    if dof < 1:
        raise ValueError(f"Student's t needs at least 1 degree of freedom, got {dof}")
    if dof <= len(_T975):
        return _T975[dof - 1]
    z, v = _Z975, float(dof)
    return (z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3))


@dataclass
class PairedDifference:
    """``a - b`` over the seeds both hold; ``half_width`` is None with fewer than 2 of them."""

    seeds: tuple[int, ...]
    mean: float | None
    half_width: float | None
    only_a: tuple[int, ...] = ()
    only_b: tuple[int, ...] = ()

    @property
    def low(self) -> float | None:
        return None if self.half_width is None else self.mean - self.half_width

    @property
    def high(self) -> float | None:
        return None if self.half_width is None else self.mean + self.half_width

    @property
    def verdict(self) -> str:
        """``beats`` / ``loses`` when the 95% interval excludes 0, ``n.s.`` when it holds 0, ``no interval``."""
        if self.half_width is None:
            return "no interval"
        if self.low > 0:
            return "beats"
        if self.high < 0:
            return "loses"
        return "n.s."

    def text(self, fmt: str = ".2f") -> str:
        """``+2.00 ± 2.48 [-0.48, +4.48] n.s.`` (numbers in ``fmt``)."""
        if self.mean is None:
            return "—"
        if self.half_width is None:
            return f"{self.mean:+{fmt}} (no interval: {len(self.seeds)} paired seed)"
        return (f"{self.mean:+{fmt}} ± {self.half_width:{fmt}} [{self.low:+{fmt}}, {self.high:+{fmt}}] "
                f"{self.verdict}")


def paired_difference(a: Mapping[int, float], b: Mapping[int, float]) -> PairedDifference:
    """Per-seed ``a[s] - b[s]`` over the seeds both hold, with the 95% Student-t interval of its mean."""
    seeds = tuple(sorted(set(a) & set(b)))
    only_a, only_b = tuple(sorted(set(a) - set(b))), tuple(sorted(set(b) - set(a)))
    diffs = [a[s] - b[s] for s in seeds]
    if not diffs:
        return PairedDifference(seeds, None, None, only_a, only_b)
    n = len(diffs)
    mean = sum(diffs) / n
    if n < 2:
        return PairedDifference(seeds, mean, None, only_a, only_b)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    return PairedDifference(seeds, mean, t_quantile_975(n - 1) * sd / math.sqrt(n), only_a, only_b)


def per_seed(row: Row, column: str) -> dict[int, float]:
    """Per-seed values of a base-to-new row's column: Base / New as run, HM of each seed's own pair."""
    if column != "HM":
        return dict(row.cells[column].values)
    base, new = row.cells["Base"].values, row.cells["New"].values
    return {s: harmonic_mean(base[s], new[s]) for s in sorted(set(base) & set(new))}


def per_seed_average(rows: Sequence[Row], column: str) -> dict[int, float]:
    """Per seed, the average row's value: HM of the mean Base and mean New over ``rows``; seeds
    missing in any dataset are left out (the average needs all of them)."""
    def mean_over(col: str) -> dict[int, float]:
        values = [r.cells[col].values for r in rows]
        common = set.intersection(*(set(v) for v in values)) if values else set()
        return {s: sum(v[s] for v in values) / len(values) for s in sorted(common)}

    if column != "HM":
        return mean_over(column)
    base, new = mean_over("Base"), mean_over("New")
    return {s: harmonic_mean(base[s], new[s]) for s in sorted(set(base) & set(new))}


@dataclass
class Comparison:
    method: str  # the method's label (trainer, with its recipe when several are shown)
    base: str
    dataset: str  # row label
    diffs: dict[str, PairedDifference] = field(default_factory=dict)  # column -> difference

    def seed_note(self) -> str:
        """One line when the two sides do not hold the same seeds (those seeds are not paired)."""
        d = next(iter(self.diffs.values()))
        parts = []
        if d.only_a:
            parts.append(f"seed(s) {' '.join(map(str, d.only_a))} only in {self.method}")
        if d.only_b:
            parts.append(f"seed(s) {' '.join(map(str, d.only_b))} only in {self.base}")
        if not parts:
            return ""
        return (f"{self.method} vs {self.base} on {self.dataset}: {'; '.join(parts)}: paired over the "
                f"{len(d.seeds)} common seed(s) {' '.join(map(str, d.seeds)) or '(none)'}")


def find_base_table(method: Table, tables: Sequence[Table]) -> tuple[Table | None, str]:
    """The table of ``method``'s base learner: the same recipe name if there is one, else the only
    recipe of that learner. Returns ``(table, "")`` or ``(None, why not)``."""
    base = method.base_learner
    if base is None:
        return None, f"{method.trainer} ({method.cfg}): its logs do not say which learner it wraps"
    candidates = [t for t in tables if t.trainer == base and t.shots == method.shots]
    same = [t for t in candidates if t.cfg == method.cfg]
    if same:
        return same[0], ""
    if len(candidates) == 1:
        return candidates[0], ""
    if not candidates:
        return None, f"{method.trainer} ({method.cfg}) wraps {base}, but no {base} runs are in this table"
    cfgs = ", ".join(t.cfg for t in candidates)
    return None, f"{method.trainer} ({method.cfg}) wraps {base}, which has several recipes here ({cfgs}): not paired"


def compare_with_base(tables: Sequence[Table], label=lambda t: t.trainer) -> tuple[list[Comparison], list[str]]:
    """Paired comparisons of every meta-method table with its base learner's, per dataset row and
    the average row; and the lines that explain what could not be paired."""
    comparisons, notes = [], []
    for method in tables:
        if method.base_learner is None or method.setting != "base2new":
            continue
        base, why = find_base_table(method, tables)
        if base is None:
            notes.append(why)
            continue
        base_rows = {r.dataset: r for r in base.rows}
        method_data = [r for r in method.rows if r.role == "dataset"]
        for row in method.rows:
            other = base_rows.get(row.dataset)
            if other is None or (row.role == "average" and len(method_data) < 2):
                continue  # an average of one dataset repeats that dataset's line
            comp = Comparison(label(method), label(base), row.label)
            for col in COLUMNS:
                if row.role == "average":
                    datasets = [r.dataset for r in method_data]
                    if not datasets or any(d not in base_rows for d in datasets):
                        break
                    a = per_seed_average(method_data, col)
                    b = per_seed_average([base_rows[d] for d in datasets], col)
                else:
                    a, b = per_seed(row, col), per_seed(other, col)
                comp.diffs[col] = paired_difference(a, b)
            if comp.diffs:
                comparisons.append(comp)
                note = comp.seed_note()
                if note:
                    notes.append(note)
    return comparisons, notes


PAIRED_NOTE = ("Δ = method − its base learner, per seed (HM: each seed's own HM), mean ± half-width of the 95% "
               "Student-t interval (n−1 dof) [low, high]; 'beats'/'loses' only where the interval excludes 0, "
               "'n.s.' where it holds 0")
