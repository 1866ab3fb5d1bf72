"""Directional derivatives by central differences, with step sizes well above float64 rounding.

A central difference at step ``h`` has truncation error ``O(h^2)`` and rounding error about
``ulp(loss) / h``. At ``h = 1e-6`` the rounding term (~1e-10 absolute) is what a tolerance of
1e-6 relative then measures, and it changes with the reduction order of the thread pool. So the
step is 1e-4 (rounding ~1e-12) and Richardson extrapolation over ``h`` and ``h / 2`` cancels the
``h^2`` term, leaving ``O(h^4)``: both error terms sit far below the tolerances the tests use.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

STEP = 1e-4


def central_difference(fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor],
                       direction: Sequence[torch.Tensor], h: float) -> float:
    """``(f(p + h d) - f(p - h d)) / 2h``; ``params`` are shifted in place and restored."""
    def shifted(sign: float) -> float:
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.add_(sign * h * d)
        try:
            return fn().item()
        finally:
            with torch.no_grad():
                for p, d in zip(params, direction):
                    p.sub_(sign * h * d)

    return (shifted(1.0) - shifted(-1.0)) / (2 * h)


def directional_derivative(fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor],
                           direction: Sequence[torch.Tensor], h: float = STEP) -> float:
    """Richardson-extrapolated central difference: ``(4 D(h/2) - D(h)) / 3``, error ``O(h^4)``."""
    coarse = central_difference(fn, params, direction, h)
    fine = central_difference(fn, params, direction, h / 2)
    return (4 * fine - coarse) / 3
