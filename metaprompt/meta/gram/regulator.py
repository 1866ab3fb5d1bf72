"""The gradient regulator ``R_phi``: maps raw prompt gradients to regulated ones, tensor by tensor.

Keyed by the learner's prompt names; every tensor is seen as rows (one per prompt token, or one
per weight row for MaPLe's couplings) of its last dimension. Three kinds (``KIND``):

* ``gate`` (default): ``R(g) = sigmoid(MLP(g_hat)) * g`` per row, ``g_hat = g / rms(g)`` (so the
  gate sees the gradient's direction pattern, not its scale), optionally conditioned on a task
  embedding, and the output rescaled to the raw gradient's norm: the regulator turns the
  direction, the optimizer keeps its step size;
* ``elementwise``: ``R(g) = alpha * g`` with a learned ``alpha`` per prompt element (Meta-SGD);
* ``lowrank``: ``R(g) = g + beta * (g U) V`` per row, a rank-``RANK`` transform mixed in by a
  learned ``beta`` per tensor.

Each starts as the exact identity (zero last layer, ``alpha = 1``, ``beta = 0``). ``SHARE``:
one module per tensor, or (``gate``, ``lowrank``) one per modality and row width, told apart by
a learned layer embedding (``gate``) or per-tensor ``beta`` (``lowrank``). Computation is in the
regulator's dtype (fp32 unless a test makes it fp64); the output has the input's dtype.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import torch
from torch import nn

from ...errors import ConfigError
from ...learners.base import MODALITIES, PromptSpec
from ..functional import GradientStreams

KINDS = ("gate", "elementwise", "lowrank")
SHARES = ("tensor", "modality")


@dataclass(frozen=True)
class RegulatorConfig:
    kind: str = "gate"
    hidden: int = 32  # gate MLP width
    rank: int = 8  # lowrank rank
    share: str = "tensor"  # tensor or modality
    task_cond: bool = False  # gate only: condition on the mean frozen image feature of the task
    modalities: tuple[str, ...] = field(default=MODALITIES)  # which prompt tensors are regulated

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", tuple(self.modalities))
        if self.kind not in KINDS:
            raise ConfigError(f"REGULATOR.KIND={self.kind!r}: choose one of {KINDS}")
        if self.share not in SHARES:
            raise ConfigError(f"REGULATOR.SHARE={self.share!r}: choose one of {SHARES}")
        if self.kind == "elementwise" and self.share != "tensor":
            raise ConfigError("REGULATOR.SHARE must be 'tensor' for KIND elementwise (its alpha is per element)")
        if self.task_cond and self.kind != "gate":
            raise ConfigError("REGULATOR.TASK_COND needs KIND gate")
        unknown = set(self.modalities) - set(MODALITIES)
        if unknown or not self.modalities:
            raise ConfigError(f"REGULATOR.MODALITIES={list(self.modalities)}: use a non-empty subset of {MODALITIES}")
        if self.hidden < 1 or self.rank < 1:
            raise ConfigError("REGULATOR.HIDDEN and REGULATOR.RANK must be >= 1")

    @classmethod
    def from_node(cls, node) -> "RegulatorConfig":
        return cls(kind=node.KIND, hidden=node.HIDDEN, rank=node.RANK, share=node.SHARE, task_cond=node.TASK_COND,
                   modalities=tuple(node.MODALITIES))

    def to_dict(self) -> dict:
        return {**asdict(self), "modalities": list(self.modalities)}


def as_rows(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(1, -1) if t.dim() <= 1 else t.reshape(-1, t.shape[-1])


def _safe(x: torch.Tensor) -> torch.Tensor:
    """A denominator that is never 0 (the numerator is 0 there), keeping gradients finite."""
    return torch.where(x > 0, x, torch.ones_like(x))


class RowGate(nn.Module):
    """``MLP(g_hat) -> gate logits`` per row, with optional task and layer inputs to the hidden layer."""

    def __init__(self, width: int, hidden: int, task_dim: int = 0, n_layers: int = 0) -> None:
        super().__init__()
        self.inp = nn.Linear(width, hidden)
        self.out = nn.Linear(hidden, width)
        nn.init.zeros_(self.out.weight)  # gate 0.5 everywhere: the identity after norm rescaling
        nn.init.zeros_(self.out.bias)
        self.task = nn.Linear(task_dim, hidden, bias=False) if task_dim else None
        self.layer = nn.Embedding(n_layers, hidden) if n_layers else None
        if self.layer is not None:
            nn.init.normal_(self.layer.weight, std=0.02)

    def forward(self, rows: torch.Tensor, task: torch.Tensor | None, layer: int) -> torch.Tensor:
        h = self.inp(rows)
        if self.task is not None:
            h = h + self.task(task)
        if self.layer is not None:
            h = h + self.layer.weight[layer]
        return self.out(torch.relu(h))


class LowRank(nn.Module):
    def __init__(self, width: int, rank: int) -> None:
        super().__init__()
        self.u = nn.Parameter(torch.randn(width, rank) / math.sqrt(width))
        self.v = nn.Parameter(torch.randn(rank, width) / math.sqrt(rank))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return rows @ self.u @ self.v


class Regulator(nn.Module):
    def __init__(self, config: RegulatorConfig, shapes: Mapping[str, Sequence[int]],
                 specs: Mapping[str, PromptSpec], task_dim: int = 0) -> None:
        super().__init__()
        if config.task_cond and task_dim < 1:
            raise ValueError("A task-conditioned regulator needs task_dim (the CLIP embedding width)")
        self.config = config
        self.shapes = {n: tuple(int(s) for s in shape) for n, shape in shapes.items()}
        self.specs = dict(specs)
        self.names = [n for n in self.shapes if self.specs[n].modality in config.modalities]
        if not self.names:
            present = sorted({self.specs[n].modality for n in self.shapes})
            raise ConfigError(f"REGULATOR.MODALITIES={list(config.modalities)} selects none of this learner's prompt "
                              f"tensors (their modalities: {present}).")
        self.task_dim = task_dim if config.task_cond else 0
        widths = {n: self.shapes[n][-1] for n in self.names}
        self.group = {n: (n if config.share == "tensor" else f"{self.specs[n].modality}_{widths[n]}")
                      for n in self.names}
        n_layers = {}
        for n in self.names:
            n_layers[self.group[n]] = max(n_layers.get(self.group[n], 0), self.specs[n].layer + 1)
        self.nets = nn.ModuleDict()
        self.coeffs = nn.ParameterDict()
        for n in self.names:
            g = self.group[n]
            if config.kind == "gate" and g not in self.nets:
                self.nets[g] = RowGate(widths[n], config.hidden, self.task_dim,
                                           n_layers[g] if config.share == "modality" else 0)
            elif config.kind == "lowrank":
                if g not in self.nets:
                    self.nets[g] = LowRank(widths[n], config.rank)
                self.coeffs[n] = nn.Parameter(torch.zeros(()))
            elif config.kind == "elementwise":
                self.coeffs[n] = nn.Parameter(torch.ones(self.shapes[n]))

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def regulate(self, name: str, g: torch.Tensor, task: torch.Tensor | None = None) -> torch.Tensor:
        kind = self.config.kind
        x = g.to(self.dtype)
        if kind == "elementwise":
            out = self.coeffs[name] * x
        else:
            rows = as_rows(x)
            if kind == "gate":
                # Square roots of a safe value: a zero gradient stays zero, with finite second derivatives.
                rms = _safe(rows.pow(2).mean()).sqrt()
                t = task.to(self.dtype) if task is not None and self.task_dim else None
                gated = torch.sigmoid(self.nets[self.group[name]](rows / rms, t, self.specs[name].layer)) * rows
                norm_in, norm_out = _safe(rows.pow(2).sum()).sqrt(), _safe(gated.pow(2).sum()).sqrt()
                rows = gated * (norm_in / norm_out)
            else:
                rows = rows + self.coeffs[name] * self.nets[self.group[name]](rows)
            out = rows.reshape(x.shape)
        return out.to(g.dtype)

    def forward(self, grads: Mapping[str, torch.Tensor], task: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Regulated gradients for the regulated names; every other gradient passes through unchanged."""
        if self.task_dim and task is None:
            raise ValueError("This regulator is task-conditioned: pass the task embedding")
        return {n: (self.regulate(n, g, task) if n in self.group else g) for n, g in grads.items()}

    def modulate(self, streams: GradientStreams, task: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The :class:`GradientModulator` contract: the ``"ce"`` stream in, regulated gradients out."""
        return self(streams["ce"], task)

    def for_task(self, task: torch.Tensor | None) -> "TaskRegulator":
        """This regulator as a :class:`GradientModulator` conditioned on ``task`` (``None``: none)."""
        return TaskRegulator(self, task)

    def describe(self) -> str:
        return (f"{self.config.kind} regulator over {len(self.names)} prompt tensors ({', '.join(self.config.modalities)}), "
                f"{self.num_parameters():,} parameters")


@dataclass(frozen=True)
class TaskRegulator:
    """A :class:`Regulator` bound to one task's embedding: GRAM's :class:`GradientModulator`."""

    regulator: Regulator
    task: torch.Tensor | None = None

    def modulate(self, streams: GradientStreams) -> dict[str, torch.Tensor]:
        return self.regulator.modulate(streams, self.task)
