"""The ``Classification`` evaluator with Dassl's printed lines (parsers grep ``* accuracy:``)."""
from __future__ import annotations

from collections import OrderedDict, defaultdict

import torch

from .registry import EVALUATOR_REGISTRY


def macro_f1(y_true: list[int], y_pred: list[int]) -> float:
    """Unweighted mean F1 over the classes present in ``y_true`` or ``y_pred``."""
    labels = sorted(set(y_true) | set(y_pred))
    tp: dict[int, int] = defaultdict(int)
    fp: dict[int, int] = defaultdict(int)
    fn: dict[int, int] = defaultdict(int)
    for t, p in zip(y_true, y_pred):
        if t == p:
            tp[t] += 1
        else:
            fp[p] += 1
            fn[t] += 1
    scores = []
    for c in labels:
        denom = 2 * tp[c] + fp[c] + fn[c]
        scores.append(2 * tp[c] / denom if denom else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


@EVALUATOR_REGISTRY.register()
class Classification:
    def __init__(self, cfg, lab2cname=None, **kwargs) -> None:
        self.cfg = cfg
        self._lab2cname = lab2cname
        self.reset()

    def reset(self) -> None:
        self._correct = 0
        self._total = 0
        self._y_true: list[int] = []
        self._y_pred: list[int] = []

    def process(self, mo: torch.Tensor, gt: torch.Tensor) -> None:
        pred = mo.max(1)[1]
        self._correct += int(pred.eq(gt).sum().item())
        self._total += gt.shape[0]
        self._y_true.extend(gt.tolist())
        self._y_pred.extend(pred.tolist())

    def evaluate(self) -> OrderedDict:
        acc = 100.0 * self._correct / max(self._total, 1)
        f1 = 100.0 * macro_f1(self._y_true, self._y_pred)
        results = OrderedDict(accuracy=acc, error=100.0 - acc, macro_f1=f1)
        print(
            "=> result\n"
            f"* total: {self._total:,}\n"
            f"* correct: {self._correct:,}\n"
            f"* accuracy: {acc:.1f}%\n"
            f"* error: {100.0 - acc:.1f}%\n"
            f"* macro_f1: {f1:.1f}%"
        )
        if self.cfg.TEST.PER_CLASS_RESULT:
            self._print_per_class()
        return results

    def _print_per_class(self) -> None:
        per_class: dict[int, list[int]] = defaultdict(list)
        for t, p in zip(self._y_true, self._y_pred):
            per_class[t].append(int(t == p))
        print("=> per-class result")
        accs = []
        for label in sorted(per_class):
            res = per_class[label]
            acc = 100.0 * sum(res) / len(res)
            accs.append(acc)
            name = self._lab2cname.get(label, str(label)) if self._lab2cname else str(label)
            print(f"* class: {label} ({name})\ttotal: {len(res):,}\tcorrect: {sum(res):,}\tacc: {acc:.1f}%")
        print(f"* average: {sum(accs) / len(accs):.1f}%")


def build_evaluator(cfg, **kwargs):
    return EVALUATOR_REGISTRY.get(cfg.TEST.EVALUATOR)(cfg, **kwargs)
