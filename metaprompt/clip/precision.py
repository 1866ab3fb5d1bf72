"""Precision modes: ``fp16`` (the references'), ``fp32``, ``amp`` (autocast) and ``bf16`` (autocast).

On CPU, ``fp16`` falls back to fp32 and ``amp`` runs bf16 autocast (half precision on CPU is
slow). ``METAPROMPT_CPU_HALF=1`` forces the GPU's code paths on CPU instead: ``fp16`` keeps CLIP
and the prompts in half precision, ``amp`` autocasts to float16 with a gradient scaler. Tests use
it to run the half-precision paths before a GPU is at hand.
"""
from __future__ import annotations

import contextlib
import os
import warnings

import torch

from ..errors import ConfigError
from .openai import convert_weights

PRECISIONS = ("fp16", "fp32", "amp", "bf16")
CPU_HALF_ENV = "METAPROMPT_CPU_HALF"


def cpu_half_forced() -> bool:
    """Whether ``METAPROMPT_CPU_HALF`` asks for the real fp16/amp paths on CPU (``1``; unset or ``0``: no)."""
    value = os.environ.get(CPU_HALF_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ConfigError(f"{CPU_HALF_ENV}={value!r}: set it to 1 (run fp16/amp on CPU as on a GPU) or 0 (default).")
    return value == "1"


def resolve_precision(prec: str, device: torch.device) -> str:
    if prec not in PRECISIONS:
        raise ValueError(f"PREC={prec!r} is not supported; choose one of {PRECISIONS}")
    if device.type == "cpu" and prec in ("fp16", "amp") and cpu_half_forced():
        return prec
    if device.type == "cpu" and prec == "fp16":
        warnings.warn("PREC fp16 on CPU is 8-35x slower than fp32: running in fp32 instead "
                      f"({CPU_HALF_ENV}=1 forces fp16).")
        return "fp32"
    if device.type == "cpu" and prec == "amp":
        return "bf16"  # bf16 needs no scaler and is fast on CPU; METAPROMPT_CPU_HALF=1 forces fp16
    return prec


def half_weights(clip_model: torch.nn.Module) -> torch.nn.Module:
    """``PREC fp16`` as the CoOp family: CLIP's own conversion (convolutions, linear and attention
    weights, projections to fp16; LayerNorm and embeddings stay fp32, CLIP's LayerNorm computes in
    fp32). ``model.half()`` would also halve LayerNorm, which CLIP's fp32 LayerNorm input rejects on CPU."""
    convert_weights(clip_model)
    return clip_model


def autocast(prec: str, device: torch.device):
    """Autocast for ``amp`` (fp16) and ``bf16``; a no-op otherwise. Prompts stay fp32."""
    if prec == "amp":
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    if prec == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def needs_grad_scaler(prec: str, device: torch.device) -> bool:
    """``amp`` (fp16 autocast) needs a gradient scaler; on CPU ``amp`` is fp16 only when forced."""
    return prec == "amp" and (device.type == "cuda" or cpu_half_forced())
