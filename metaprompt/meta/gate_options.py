"""Gate variants beside the release's :class:`GradientGate`: a constant gamma and coarser gates.

* :class:`ConstantGate` - ``gamma`` fixed (the "base + fixed regularizers" ablation, and the
  ``gamma = 0.5`` arm of the held-out gate test); it has no parameters.
* :class:`CoarseGradientGate` - one gamma per prompt token (``"token"``: a row of the tensor's
  last dimension) or per tensor (``"tensor"``) instead of one per ``DIM_RATE`` elements: fewer
  outputs for the same outer-loss signal (a candidate of issue 10, item 5; paper mode only).
  Its MLP is the release's shape with one output: ``2R -> R/r -> 1`` for a unit of ``R`` elements.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

from ..learners.base import PromptSpec
from .gate import GradientGate, gate_unit

Tensors = dict[str, torch.Tensor]
GRANULARITIES = ("element", "token", "tensor")  # "element": the release's gate (DIM_RATE elements per gamma)


class ConstantGate(nn.Module):
    """``g_mod = g_ce + value * g_reg``: the same ``(g_mod, gamma)`` interface as :class:`GradientGate`."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = float(value)
        self.last_gamma: Tensors = {}

    def forward(self, g_ce: Mapping[str, torch.Tensor], g_reg: Mapping[str, torch.Tensor]) -> tuple[Tensors, Tensors]:
        gamma = {n: torch.full_like(g, self.value) for n, g in g_ce.items()}
        return {n: g_ce[n] + gamma[n] * g_reg[n] for n in g_ce}, gamma

    # The gradient-modulation contract, exactly as the learned gate keeps it (gammas in last_gamma).
    modulate = GradientGate.modulate


class CoarseGateMLP(nn.Module):
    """``sigmoid(W2 W1 [g_ce; g_reg])`` with one output per group of ``group`` consecutive elements."""

    def __init__(self, group: int, rate: int) -> None:
        super().__init__()
        if rate < 1:
            raise ValueError(f"DIM_RATE must be >= 1, got {rate}")
        self.group = group
        self.down = nn.Linear(2 * group, math.ceil(group / rate), bias=False)
        self.up = nn.Linear(math.ceil(group / rate), 1, bias=False)

    def forward(self, g_ce: torch.Tensor, g_reg: torch.Tensor) -> torch.Tensor:
        x = torch.cat([g_ce.reshape(-1, self.group), g_reg.reshape(-1, self.group)], dim=1).to(self.down.weight.dtype)
        gamma = torch.sigmoid(self.up(self.down(x)))  # (groups, 1)
        return gamma.expand(-1, self.group).reshape(g_ce.shape)


def coarse_group(spec: PromptSpec, shape: torch.Size | tuple[int, ...], granularity: str) -> int:
    """Elements that share one gamma: a token is a row of the last dimension; a tensor is the
    release's unit (whole tensor, or one row of a MaPLe coupling weight)."""
    if granularity == "token":
        return int(shape[-1])
    if granularity == "tensor":
        return gate_unit(spec, shape)
    raise ValueError(f"gate granularity must be 'token' or 'tensor' here, got {granularity!r}")


class CoarseGradientGate(GradientGate):
    """A :class:`GradientGate` whose MLPs emit one gamma per token or per tensor."""

    def __init__(self, prompts: Mapping[str, torch.Tensor], specs: Mapping[str, PromptSpec], rate: int = 8,
                 granularity: str = "token") -> None:
        nn.Module.__init__(self)
        self.specs = dict(specs)
        self.granularity = granularity
        self.mlps = nn.ModuleDict({name: CoarseGateMLP(coarse_group(specs[name], p.shape, granularity), rate)
                                   for name, p in prompts.items()})


def build_gate(prompts: Mapping[str, torch.Tensor], specs: Mapping[str, PromptSpec], rate: int,
               granularity: str = "element") -> GradientGate:
    """The release's gate (``"element"``) or a coarser one."""
    if granularity == "element":
        return GradientGate(prompts, specs, rate)
    if granularity not in GRANULARITIES:
        raise ValueError(f"gate granularity must be one of {GRANULARITIES}, got {granularity!r}")
    return CoarseGradientGate(prompts, specs, rate, granularity)


@torch.no_grad()
def scale_gradients(module: nn.Module, factor: float) -> None:
    """Multiply every parameter's gradient by ``factor`` (the gate's own outer-loss scale)."""
    for p in module.parameters():
        if p.grad is not None:
            p.grad.mul_(factor)
