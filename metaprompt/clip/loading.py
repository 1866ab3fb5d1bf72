"""Loading CLIP: OpenAI checkpoints from a local file or the standard cache, or tiny random models.

No download is ever attempted: a missing file is one :class:`MissingWeightsError` that names the
file expected and where to put it.
"""
from __future__ import annotations

import os
from typing import Callable

import torch

from ..errors import UserInputError
from .openai import CLIP, build_model

# OpenAI's released checkpoints: name -> file name in the cache (the URL's basename).
OPENAI_FILES = {
    "RN50": "RN50.pt", "RN101": "RN101.pt", "RN50x4": "RN50x4.pt", "RN50x16": "RN50x16.pt",
    "RN50x64": "RN50x64.pt", "ViT-B/32": "ViT-B-32.pt", "ViT-B/16": "ViT-B-16.pt",
    "ViT-L/14": "ViT-L-14.pt", "ViT-L/14@336px": "ViT-L-14-336px.pt",
}
DEFAULT_CACHE = os.path.expanduser(os.environ.get("CLIP_CACHE", "~/.cache/clip"))

# Built-in models that need no file: name -> factory returning an fp32 CLIP.
_FACTORIES: dict[str, Callable[[], CLIP]] = {}


class MissingWeightsError(UserInputError, FileNotFoundError):
    """No file where the CLIP weights are expected (nothing is ever downloaded)."""


class WeightsFileError(UserInputError, ValueError):
    """A CLIP weights file that is neither a TorchScript archive nor a state dict of CLIP."""


def register_backbone(name: str):
    """Register a factory for a CLIP that needs no download (tiny test models, toy world)."""
    def wrap(fn: Callable[[], CLIP]) -> Callable[[], CLIP]:
        _FACTORIES[name] = fn
        return fn
    return wrap


def _factories() -> dict[str, Callable[[], CLIP]]:
    """The registered factories, after every plugin had its chance to register (the toy world's
    ``toy-vit`` is registered by a layer above this one)."""
    import metaprompt

    metaprompt.register_all()
    return _FACTORIES


def available_backbones() -> list[str]:
    return sorted(_factories()) + list(OPENAI_FILES)


def is_builtin_backbone(name: str) -> bool:
    return name in _factories()


def resolve_checkpoint(name: str, path: str = "") -> str:
    """The file a backbone is read from: ``path`` if given, else ``<cache>/<OpenAI file name>``."""
    if path:
        expected = os.path.expanduser(path)
    elif name in OPENAI_FILES:
        expected = os.path.join(DEFAULT_CACHE, OPENAI_FILES[name])
    else:
        raise MissingWeightsError(
            f"Unknown backbone {name!r}. Use one of {available_backbones()}, or set MODEL.BACKBONE.PATH "
            "to a CLIP checkpoint file."
        )
    if not os.path.isfile(expected):
        hint = f" (OpenAI's {OPENAI_FILES[name]})" if name in OPENAI_FILES else ""
        raise MissingWeightsError(
            f"CLIP weights for {name!r} not found: expected the file {expected}{hint}. This project never "
            f"downloads weights: copy the checkpoint there (the cache folder is {DEFAULT_CACHE}, or set "
            "CLIP_CACHE), or point MODEL.BACKBONE.PATH at it. For a CPU smoke run without weights use "
            "MODEL.BACKBONE.NAME tiny-vit."
        )
    return expected


def _read_state_dict(fpath: str) -> dict[str, torch.Tensor]:
    try:  # OpenAI releases TorchScript archives
        return dict(torch.jit.load(fpath, map_location="cpu").state_dict())
    except (RuntimeError, ValueError):
        pass
    try:
        obj = torch.load(fpath, map_location="cpu", weights_only=True)
    except Exception as e:  # garbage makes the unpickler fail in many ways (IndexError, OSError, ...)
        raise WeightsFileError(
            f"{fpath} is neither a TorchScript CLIP archive nor a state dict ({type(e).__name__}). The file may "
            "be truncated or not a CLIP checkpoint: copy OpenAI's file again, or fix MODEL.BACKBONE.PATH."
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or "visual.conv1.weight" not in obj:
        raise WeightsFileError(f"{fpath} does not hold CLIP weights (no 'visual.conv1.weight' entry). Point "
                               "MODEL.BACKBONE.PATH at an OpenAI CLIP checkpoint or a state dict of one.")
    return obj


def _build_fp32(state_dict: dict[str, torch.Tensor]) -> CLIP:
    """CLIP's ``build_model`` infers the architecture from the shapes but loads the weights into an
    fp16 model, which would round an fp32 checkpoint; load them again into the fp32 model."""
    state_dict = dict(state_dict)
    model = build_model(dict(state_dict)).float()
    for key in ("input_resolution", "context_length", "vocab_size"):  # metadata in OpenAI's archives
        state_dict.pop(key, None)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()})
    return model


def load_clip(name: str, path: str = "") -> CLIP:
    """An fp32 CLIP in eval mode with every parameter frozen."""
    if name in _factories() and not path:
        model = _FACTORIES[name]()
    else:
        fpath = resolve_checkpoint(name, path)
        state_dict = _read_state_dict(fpath)
        try:
            model = _build_fp32(state_dict)
        except (KeyError, RuntimeError, ValueError, IndexError) as e:
            raise WeightsFileError(f"{fpath} holds tensors that do not form a CLIP model "
                                   f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}).") from None
    model = model.float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
