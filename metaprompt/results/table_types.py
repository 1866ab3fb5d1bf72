"""The results tables' data: cells, rows, tables and the runs they miss (built by :mod:`.tables`,
drawn by :mod:`.render` and :mod:`.figure`, which therefore import this module, not each other)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cell:
    mean: float | None
    std: float | None = None  # population std over seeds; None for derived cells
    values: dict[int, float] = field(default_factory=dict)  # seed -> accuracy of the finished runs
    expected: int = 0  # how many seeds the cell should hold (0 for derived cells)
    complete: bool = True
    derived: bool = False  # computed from other cells (HM, average row)


@dataclass
class Problem:
    dataset: str
    column: str
    seed: int
    kind: str  # "missing" (no run folder) or "unfinished" (no test result in its logs)
    path: str

    def describe(self) -> str:
        what = "no run folder" if self.kind == "missing" else "its logs hold no test result (crashed or running)"
        return f"{self.dataset} {self.column} seed {self.seed}: {self.kind} — {what}: {self.path}"


@dataclass
class Row:
    dataset: str  # folder name, or "average"
    label: str
    role: str  # "dataset", "source" or "average"
    cells: dict[str, Cell]
    published: dict[str, dict[str, float | None]] = field(default_factory=dict)  # method -> column -> value
    note: str = ""


@dataclass
class Table:
    setting: str
    trainer: str
    cfg: str
    shots: int | None  # None for few-shot (shots are the columns)
    seeds: tuple[int, ...]
    columns: list[str]
    rows: list[Row]
    compare: list[str]
    problems: list[Problem]
    notes: list[str]
    base_learner: str | None = None  # the learner a meta method wraps (from its logs), for paired comparisons

    @property
    def title(self) -> str:
        shots = f", {self.shots} shots" if self.shots is not None else ""
        seeds = ", ".join(map(str, self.seeds))
        return f"{self.setting}: {self.trainer} / {self.cfg}{shots}, seeds {seeds}"

    @property
    def complete(self) -> bool:
        """Every expected run is there and finished."""
        return not self.problems
