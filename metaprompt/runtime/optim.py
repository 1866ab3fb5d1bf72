"""Optimizers and epoch-level learning-rate schedules with Dassl's config keys and sequences.

Used by both runtimes: Dassl's own warm-up wrapper no longer builds on current torch, and its
state pickles a scheduler object that ``torch.load(weights_only=True)`` refuses. Here the whole
schedule is one closed-form function of the epoch, so its state is a plain dict.

Sequences with ``W = WARMUP_EPOCH > 0`` (Dassl's, checked against it): epochs ``0..W-1`` use
the warm-up learning rate (``constant``: ``WARMUP_CONS_LR``; ``linear``: ``WARMUP_MIN_LR`` at
epoch 0, then ``LR * t / W``). With ``WARMUP_RECOUNT=True`` (the default) epoch ``t >= W`` uses
the main schedule at ``t - W``, i.e. it restarts from ``LR``. With ``WARMUP_RECOUNT=False``
Dassl's chained schedulers start again from ``LR`` at epoch ``W`` and then apply the main
schedule's ratios from epoch ``W`` on: ``LR * main(t) / main(W)``.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from ..errors import ConfigError

_OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
_SCHEDULERS = ("single_step", "multi_step", "cosine")


def check_optim_cfg(optim_cfg, node: str = "OPTIM") -> None:
    """Raise :class:`ConfigError` now for values the builders below or torch would reject later."""
    if optim_cfg.NAME not in _OPTIMIZERS:
        raise ConfigError(f"{node}.NAME={optim_cfg.NAME!r} is not supported; choose one of {_OPTIMIZERS}")
    if not optim_cfg.LR >= 0:  # also NaN
        raise ConfigError(f"{node}.LR must be >= 0, got {optim_cfg.LR}.")
    if optim_cfg.MAX_EPOCH < 1:
        raise ConfigError(f"{node}.MAX_EPOCH must be >= 1, got {optim_cfg.MAX_EPOCH}: a run of 0 epochs trains "
                          "nothing and saves no checkpoint. To score a model without training, use --eval-only.")
    lr_factor_fn(optim_cfg)


def build_optimizer(model_or_params: nn.Module | Iterable, optim_cfg, param_groups=None) -> torch.optim.Optimizer:
    name = optim_cfg.NAME
    if name not in _OPTIMIZERS:
        raise ConfigError(f"OPTIM.NAME={name!r} is not supported; choose one of {_OPTIMIZERS}")
    if param_groups is not None:
        params = param_groups
    elif isinstance(model_or_params, nn.Module):
        params = [p for p in model_or_params.parameters() if p.requires_grad]
    else:
        params = list(model_or_params)
    lr, wd = optim_cfg.LR, optim_cfg.WEIGHT_DECAY
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=optim_cfg.MOMENTUM, weight_decay=wd,
                               dampening=optim_cfg.SGD_DAMPNING, nesterov=optim_cfg.SGD_NESTEROV)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, betas=(optim_cfg.ADAM_BETA1, optim_cfg.ADAM_BETA2))
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, betas=(optim_cfg.ADAM_BETA1, optim_cfg.ADAM_BETA2))
    return torch.optim.RMSprop(params, lr=lr, momentum=optim_cfg.MOMENTUM, weight_decay=wd,
                               alpha=optim_cfg.RMSPROP_ALPHA)


def lr_factor_fn(optim_cfg) -> Callable[[int, float], float]:
    """Return ``f(epoch, base_lr) -> lr`` for the configured schedule (warm-up included)."""
    sched = optim_cfg.LR_SCHEDULER
    if sched not in _SCHEDULERS:
        raise ConfigError(f"OPTIM.LR_SCHEDULER={sched!r} is not supported; choose one of {_SCHEDULERS}")
    max_epoch = optim_cfg.MAX_EPOCH
    stepsize = list(optim_cfg.STEPSIZE) if isinstance(optim_cfg.STEPSIZE, (list, tuple)) else [optim_cfg.STEPSIZE]
    gamma = optim_cfg.GAMMA

    def main(t: int, base: float) -> float:
        if sched == "cosine":
            return base * (1 + math.cos(math.pi * t / max_epoch)) / 2
        if sched == "single_step":
            step = stepsize[-1] if stepsize[-1] > 0 else max_epoch
            return base * gamma ** (t // step)
        return base * gamma ** sum(t >= m for m in stepsize)

    warmup = optim_cfg.WARMUP_EPOCH
    if warmup is None or warmup <= 0:
        return main
    wtype = optim_cfg.WARMUP_TYPE
    if wtype not in ("constant", "linear"):
        raise ConfigError(f"OPTIM.WARMUP_TYPE={wtype!r} is not supported; choose 'constant' or 'linear'")
    recount = optim_cfg.WARMUP_RECOUNT

    def after_warmup(t: int, base: float) -> float:
        if recount:
            return main(t - warmup, base)
        at_end_of_warmup = main(warmup, 1.0)
        return base * main(t, 1.0) / at_end_of_warmup if at_end_of_warmup > 0 else 0.0

    def with_warmup(t: int, base: float) -> float:
        if t >= warmup:
            return after_warmup(t, base)
        if wtype == "constant":
            return optim_cfg.WARMUP_CONS_LR
        return optim_cfg.WARMUP_MIN_LR if t == 0 else base * t / warmup

    return with_warmup


class EpochLR(LRScheduler):
    """Sets each group's lr to ``fn(epoch, base_lr)``; stepped once per epoch like Dassl's."""

    def __init__(self, optimizer: torch.optim.Optimizer, fn: Callable[[int, float], float], last_epoch: int = -1):
        self._fn = fn
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self._fn(self.last_epoch, base) for base in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_fn")}


def build_lr_scheduler(optimizer: torch.optim.Optimizer, optim_cfg) -> EpochLR:
    return EpochLR(optimizer, lr_factor_fn(optim_cfg))
