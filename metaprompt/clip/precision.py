"""Precision modes: ``fp16`` (the references'), ``fp32``, ``amp`` (autocast) and ``bf16`` (autocast)."""
from __future__ import annotations

import contextlib
import warnings

import torch

PRECISIONS = ("fp16", "fp32", "amp", "bf16")


def resolve_precision(prec: str, device: torch.device) -> str:
    if prec not in PRECISIONS:
        raise ValueError(f"PREC={prec!r} is not supported; choose one of {PRECISIONS}")
    if device.type == "cpu" and prec == "fp16":
        warnings.warn("PREC fp16 on CPU is 8-35x slower than fp32: running in fp32 instead.")
        return "fp32"
    if device.type == "cpu" and prec == "amp":
        return "bf16"  # CPU autocast has no fp16 GradScaler path; bf16 needs no scaler
    return prec


def autocast(prec: str, device: torch.device):
    """Autocast for ``amp`` (fp16, GPU) and ``bf16``; a no-op otherwise. Prompts stay fp32."""
    if prec == "amp":
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    if prec == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def needs_grad_scaler(prec: str, device: torch.device) -> bool:
    return prec == "amp" and device.type == "cuda"
