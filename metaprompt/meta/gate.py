"""ProMetaR's meta-regularizer: a learned gate on the regularizer's gradient, one MLP per prompt tensor.

For a prompt tensor ``theta_k`` with task gradient ``g_ce`` and regularizer gradient ``g_reg``::

    gamma = sigmoid(MLP_k(concat(g_ce, g_reg)))     # one value per ``rate`` gradient elements
    g_mod = g_ce + gamma * g_reg

``MLP_k`` is the release's: two bias-free linear layers ``2C -> C/r -> C/r`` with no
non-linearity between them (``r`` = ``DIM_RATE``), each output gating ``r`` consecutive elements
of the flattened gradient. Gates are keyed by the learner's prompt names, never by module paths.

A *unit* is what one MLP sees at once. For a prompt tensor (``n_ctx x width``) the unit is the
whole tensor, as in the release. A MaPLe coupling weight (``vision_width x text_width``, 393,216
values for ViT-B/16) would need a 38.6G-parameter MLP as a whole, so it is gated **per row**: one
MLP with unit ``text_width`` is shared by the rows (each row maps the text prompt to one visual
channel). Coupling biases are small and gated whole.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import torch
from torch import nn

from ..learners.base import PromptSpec
from .functional import GradientStreams

Tensors = dict[str, torch.Tensor]


def gate_unit(spec: PromptSpec, shape: torch.Size | tuple[int, ...]) -> int:
    """Number of gradient elements one MLP call sees for this tensor (see the module docstring)."""
    if spec.modality == "coupling" and len(shape) == 2:
        return int(shape[-1])
    return math.prod(shape)


class GateMLP(nn.Module):
    """``sigmoid(W2 W1 [g_ce; g_reg])`` per unit, expanded back to one gamma per gradient element."""

    def __init__(self, unit: int, rate: int) -> None:
        super().__init__()
        if rate < 1:
            raise ValueError(f"DIM_RATE must be >= 1, got {rate}")
        hidden = math.ceil(unit / rate)
        self.unit, self.rate = unit, rate
        self.down = nn.Linear(2 * unit, hidden, bias=False)
        self.up = nn.Linear(hidden, hidden, bias=False)

    def forward(self, g_ce: torch.Tensor, g_reg: torch.Tensor) -> torch.Tensor:
        rows = g_ce.reshape(-1, self.unit)
        x = torch.cat([rows, g_reg.reshape(-1, self.unit)], dim=1).to(self.down.weight.dtype)
        gamma = torch.sigmoid(self.up(self.down(x)))
        gamma = gamma.repeat_interleave(self.rate, dim=1)[:, : self.unit]
        return gamma.reshape(g_ce.shape)


class GradientGate(nn.Module):
    """One :class:`GateMLP` per prompt tensor of a learner, keyed by the learner's prompt names."""

    def __init__(self, prompts: Mapping[str, torch.Tensor], specs: Mapping[str, PromptSpec], rate: int = 8) -> None:
        super().__init__()
        self.specs = dict(specs)
        self.mlps = nn.ModuleDict({name: GateMLP(gate_unit(specs[name], p.shape), rate) for name, p in prompts.items()})
        self.last_gamma: Tensors = {}

    def gammas(self, g_ce: Mapping[str, torch.Tensor], g_reg: Mapping[str, torch.Tensor]) -> Tensors:
        """``gamma`` for every gated tensor, in the gradients' dtype."""
        return {name: mlp(g_ce[name], g_reg[name]).to(g_ce[name].dtype) for name, mlp in self.mlps.items()}

    def forward(self, g_ce: Mapping[str, torch.Tensor], g_reg: Mapping[str, torch.Tensor]) -> tuple[Tensors, Tensors]:
        """``(g_mod, gamma)`` with ``g_mod = g_ce + gamma * g_reg`` per tensor."""
        gamma = self.gammas(g_ce, g_reg)
        return {name: g_ce[name] + gamma[name] * g_reg[name] for name in g_ce}, gamma

    def modulate(self, streams: GradientStreams) -> Tensors:
        """The :class:`GradientModulator` contract: streams ``"ce"`` and ``"reg"`` in, ``g_mod`` out.

        A tensor without a task gradient (``"ce"`` lacks it) has ``g_ce = 0``. The gammas of the
        call are kept, detached, in ``last_gamma`` (the trainer logs their statistics).
        """
        g_reg = streams["reg"]
        g_ce = {name: streams["ce"].get(name, None) for name in g_reg}
        g_ce = {name: g if g is not None else torch.zeros_like(g_reg[name]) for name, g in g_ce.items()}
        g_mod, gamma = self(g_ce, g_reg)
        self.last_gamma = {name: g.detach() for name, g in gamma.items()}
        return g_mod


@torch.no_grad()
def normalize_gradients(module: nn.Module) -> None:  # GATE_GRADIENT_NORMS["rms"]
    """Scale each parameter's gradient to unit RMS (normalised gradient descent).

    The gate's outer-loss gradient is ``alpha * dL/dtheta' * g_reg * dgamma/dphi``, orders of
    magnitude below its weights and with a scale that depends on the model and the data; after
    this the optimizer's learning rate alone sets how far the gate moves per step.
    """
    for p in module.parameters():
        if p.grad is not None:
            rms = p.grad.float().pow(2).mean().sqrt()
            if rms > 0:
                p.grad.div_(rms.to(p.grad.dtype))


# How paper mode rescales the gate's outer-loss gradient before its optimizer steps: name -> an
# in-place function of the gate module. The trainer looks its choice up here, so another rule is
# one entry (and a config value naming it), not a change to the trainer.
GATE_GRADIENT_NORMS: dict[str, Callable[[nn.Module], None]] = {"rms": normalize_gradients}


def gamma_statistics(gamma: Mapping[str, torch.Tensor], specs: Mapping[str, PromptSpec]) -> dict[str, float]:
    """Mean and standard deviation of gamma per modality (``gamma_text_mean``, ``gamma_vision_std`` ...)."""
    by_modality: dict[str, list[torch.Tensor]] = {}
    for name, g in gamma.items():
        by_modality.setdefault(specs[name].modality, []).append(g.detach().float().flatten())
    stats = {}
    for modality, values in by_modality.items():
        v = torch.cat(values)
        stats[f"gamma_{modality}_mean"] = v.mean().item()
        stats[f"gamma_{modality}_std"] = v.std(unbiased=False).item()
    return stats
