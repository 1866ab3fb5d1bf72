"""Finite-value checks: a run stops at the first non-finite loss, weight or gradient, with one
line naming where, which tensor, and the likely cause, before anything non-finite is saved.

:func:`require_finite` is the reusable check (trainers after every optimizer step, checkpoint
writers before writing, meta-training before writing an artefact).
"""
from __future__ import annotations

from typing import Iterable, Mapping

import torch

from ..errors import UserInputError


class NonFiniteError(UserInputError, FloatingPointError):
    """A loss or tensor became inf or NaN (usually a learning rate or loss scale too high)."""


def first_non_finite(tensors: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]]
                     ) -> tuple[str, str] | None:
    """``(name, "3 NaN and 5 inf of 512 values")`` of the first tensor with a non-finite value, else None."""
    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    for name, t in items:
        if t is None or not torch.is_tensor(t) or not (t.is_floating_point() or t.is_complex()):
            continue
        if bool(torch.isfinite(t).all()):
            continue
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(torch.isinf(t).sum())
        return name, f"{n_nan} NaN and {n_inf} inf of {t.numel()} values"
    return None


def require_finite(tensors: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]], where: str,
                   cause: str = "", what_now: str = "") -> None:
    """Raise :class:`NonFiniteError` on the first non-finite tensor:
    ``"<where>: <tensor> holds non-finite values (...). Likely cause: <cause>. <what_now>"``."""
    bad = first_non_finite(tensors)
    if bad is None:
        return
    name, counts = bad
    msg = f"{where}: {name} holds non-finite values ({counts})."
    if cause:
        msg += f" Likely cause: {cause}."
    if what_now:
        msg += f" {what_now}"
    raise NonFiniteError(msg)
