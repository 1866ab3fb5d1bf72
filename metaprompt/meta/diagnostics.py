"""Does the mechanism act? Per-epoch measurements of ProMetaR's gate and GRAM's regulator, and
ProMetaR's held-out gate test. Nothing here changes a training step: the trainers hand over
copies of values they already computed, and the held-out test runs after training with every
random-number state saved and restored.

ProMetaR, per epoch (means over the epoch's steps):

* ``update_a`` / ``update_b``: L2 norm over all prompt tensors of the change each step made,
  and ``update_ratio_b_over_a`` = mean ``update_b`` / mean ``update_a``. With SGD momentum a
  step's update carries the momentum of earlier steps, so Step B's update is mostly Step A's
  momentum; ``grad_a`` / ``grad_b`` and ``grad_ratio_b_over_a`` compare the gradients each step
  hands the optimizer (Step A's gated gradient; Step B's outer-loss gradient, LR_RATIO included);
* ``gamma_<modality>_mean`` / ``_std``: the gate's output in Step A;
* ``gate_grad_snr``: ``||mean_t g_t|| / sqrt(mean_t ||g_t||^2)`` of the gradient the gate's
  optimizer receives (after paper mode's rewriting). 1 for a constant direction; about
  ``1/sqrt(n)`` (``gate_grad_snr_noise``) for ``n`` independent random directions;
* ``gate_change``: ``||phi - phi_0|| / ||phi_0||`` of the gate's weights since initialisation.

ProMetaR, after training: the meta-objective (Step B's outer loss, unscaled) on episodes drawn
from the *training* data with a fixed seed, with the learned gate, the gate at its initial
weights, and gamma = 0.5 - the same episodes for all three. Lower is better.

GRAM, per epoch: ``regulated_over_raw`` (norm ratio) and ``cosine`` between the raw and the
regulated prompt gradient, over all regulated tensors.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import random
from typing import Callable, Iterable, Mapping

import numpy as np
import torch
from torch import nn

Tensors = Mapping[str, torch.Tensor]
RESULTS_FILE = "diagnostics.json"  # beside log.txt in a run's output folder


def flat(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().float().flatten() for t in tensors])


class EpochMeans:
    """Running means of named scalars, reset every epoch."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: Mapping[str, float]) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}


class GradientSNR:
    """``||mean g|| / sqrt(mean ||g||^2)`` over the vectors added since the last reset."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.sq, self.n = 0.0, 0

    def add(self, g: torch.Tensor) -> None:
        self.total = g.clone() if self.total is None else self.total + g
        self.sq += float(g.pow(2).sum())
        self.n += 1

    def value(self) -> float | None:
        if self.n == 0 or self.sq == 0:
            return None
        return float((self.total / self.n).norm()) / math.sqrt(self.sq / self.n)


class Diagnostics:
    """Per-epoch means printed to the log, written to TensorBoard and kept for the results file."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.epoch = EpochMeans()
        self.history: list[dict] = []
        self.final: dict = {}

    def extra(self) -> dict[str, float]:
        """Values computed at the end of an epoch (subclasses)."""
        return {}

    def end_epoch(self, epoch: int, write_scalar: Callable[[str, float, int], None]) -> dict[str, float]:
        values = {**self.epoch.means(), **self.extra()}
        values = {k: v for k, v in values.items() if v is not None}
        self.epoch = EpochMeans()
        if values:
            self.history.append({"epoch": epoch + 1, **values})
            print(f"{self.name} diagnostics after epoch {epoch + 1}: "
                  + " | ".join(f"{k} {v:.4g}" for k, v in values.items()))
            for k, v in values.items():
                write_scalar(f"diagnostics/{k}", v, epoch + 1)
        return values

    def save(self, output_dir: str) -> str:
        path = os.path.join(output_dir, RESULTS_FILE)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"method": self.name, "per_epoch": self.history, "final": self.final}, f, indent=2)
        return path


class ProMetaRDiagnostics(Diagnostics):
    def __init__(self, gate: nn.Module) -> None:
        super().__init__("ProMetaR")
        self.gate = gate
        self.initial_gate = copy.deepcopy(gate.state_dict())
        self.snr = GradientSNR()
        self._before: torch.Tensor | None = None

    def before_step(self, prompts: Tensors) -> None:
        self._before = flat(prompts.values())

    def after_step(self, step: str, prompts: Tensors) -> None:
        """``step`` is "a" or "b": the norm of the change since :meth:`before_step`."""
        after = flat(prompts.values())
        grads = [p.grad for p in prompts.values() if p.grad is not None]
        self.epoch.add({f"update_{step}": float((after - self._before).norm()),
                        f"grad_{step}": float(flat(grads).norm()) if grads else 0.0})
        self._before = after

    def gamma(self, stats: Mapping[str, float]) -> None:
        self.epoch.add(stats)

    def gate_gradient(self) -> None:
        grads = [p.grad for p in self.gate.parameters() if p.grad is not None]
        if grads:
            self.snr.add(flat(grads))

    def extra(self) -> dict[str, float]:
        means = self.epoch.means()
        out: dict[str, float] = {}
        if means.get("update_a") and "update_b" in means:
            out["update_ratio_b_over_a"] = means["update_b"] / means["update_a"]
        if means.get("grad_a") and "grad_b" in means:
            out["grad_ratio_b_over_a"] = means["grad_b"] / means["grad_a"]
        if self.snr.n:
            out["gate_grad_snr"] = self.snr.value()
            out["gate_grad_snr_noise"] = 1 / math.sqrt(self.snr.n)
        self.snr = GradientSNR()
        initial = list(self.initial_gate.values())
        if initial:
            phi0 = flat(initial)
            phi = flat(self.gate.state_dict().values())
            out["gate_change"] = float((phi - phi0).norm() / phi0.norm()) if float(phi0.norm()) > 0 else None
        return out

    def initial_gate_copy(self) -> nn.Module:
        frozen = copy.deepcopy(self.gate)
        frozen.load_state_dict(self.initial_gate)
        return frozen


class GRAMDiagnostics(Diagnostics):
    def __init__(self) -> None:
        super().__init__("GRAM")

    def regulated(self, raw: Tensors, regulated: Tensors) -> None:
        a, b = flat(raw.values()), flat(regulated.values())
        na, nb = float(a.norm()), float(b.norm())
        if na > 0 and nb > 0 and math.isfinite(na) and math.isfinite(nb):
            self.epoch.add({"regulated_over_raw": nb / na, "cosine": float(a @ b) / (na * nb)})


@contextlib.contextmanager
def preserved_rng() -> Iterable[None]:
    """Run a block with torch's, numpy's and Python's random states restored afterwards."""
    py, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(np_state)


def heldout_gate_test(meta_losses: Callable[[nn.Module], list[float]], gates: Mapping[str, nn.Module]) -> dict:
    """The mean meta-objective per gate, and per-episode mean differences of the learned gate
    against each other arm (negative: the learned gate is better). ``meta_losses(gate)`` must
    score the same episodes for every gate."""
    losses = {name: meta_losses(gate) for name, gate in gates.items()}
    out: dict = {"episodes": len(next(iter(losses.values()))),
                 "meta_loss": {name: float(np.mean(v)) for name, v in losses.items()}}
    learned = np.array(losses["learned"])
    for name, v in losses.items():
        if name != "learned":
            d = learned - np.array(v)
            out[f"learned_minus_{name}"] = {"mean": float(d.mean()), "sd": float(d.std(ddof=1)) if len(d) > 1 else None}
    return out
