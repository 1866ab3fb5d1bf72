"""The prompt-learner interface that trainers, ProMetaR and GRAM build on.

A learner owns its trainable tensors in one ``ParameterDict`` keyed by stable names
(``text_ctx``, ``vision_deep_3``, ``coupling_0_weight`` ...), each described by a
:class:`PromptSpec` (modality and layer). It says *where* its tensors go; the encoders in
:mod:`metaprompt.clip.encoders` put them there. Every method takes an optional ``params``
mapping that replaces some or all tensors by name, so a meta step runs a functional forward
with adapted prompts without copying any frozen CLIP weight.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch
from torch import nn

from ..clip.openai import clip
from .registry import read_config

MODALITIES = ("text", "vision", "coupling")
Params = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class PromptSpec:
    name: str
    modality: str  # text, vision or coupling (maps text prompts into vision)
    layer: int  # transformer layer whose input it feeds (0 = the input sequence)


@dataclass
class TextInputs:
    embeddings: torch.Tensor  # (n_cls, L, D) token embeddings, context vectors in place
    eot_index: torch.Tensor  # (n_cls,)
    deep: list = field(default_factory=list)  # per layer: (n_ctx, D) replacement or None
    deep_start: int = 1


@dataclass
class VisionInputs:
    shallow: torch.Tensor | None = None  # (n, width) appended before ln_pre
    deep: list = field(default_factory=list)  # per layer: (n, width) replacement or None


class PromptLearner(nn.Module):
    Config: type  # the config dataclass (set by register_learner): its fields are the node's keys

    # Whether the class texts depend on the image (CoCoOp's meta-net): then ``text_inputs`` takes the
    # batch's image features and returns one prompt per (image, class), and class text features are
    # never cached across images (PromptedCLIP refuses text features without images).
    TEXT_DEPENDS_ON_IMAGE = False

    def __init__(self) -> None:
        super().__init__()
        self.prompts = nn.ParameterDict()
        self.specs: dict[str, PromptSpec] = {}

    def add_prompt(self, name: str, tensor: torch.Tensor, modality: str, layer: int) -> None:
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}")
        self.prompts[name] = nn.Parameter(tensor)
        self.specs[name] = PromptSpec(name, modality, layer)

    def prompt_specs(self) -> list[PromptSpec]:
        return list(self.specs.values())

    def prompt_tensors(self, params: Params | None = None) -> dict[str, torch.Tensor]:
        """The tensors to use: ``params[name]`` where given, the learner's own parameter otherwise."""
        if params:
            unknown = set(params) - set(self.prompts)
            if unknown:
                raise KeyError(f"Unknown prompt tensors {sorted(unknown)}; this learner has {sorted(self.prompts)}")
            return {name: params.get(name, p) for name, p in self.prompts.items()}
        return dict(self.prompts.items())

    # The two methods a learner implements -------------------------------------------------
    def text_inputs(self, p: Mapping[str, torch.Tensor]) -> TextInputs:
        """The class prompts; an image-conditioned learner's takes ``(p, image_features)`` and returns
        ``B * n_cls`` prompts (image-major)."""
        raise NotImplementedError

    def vision_inputs(self, p: Mapping[str, torch.Tensor]) -> VisionInputs:
        return VisionInputs()

    def set_classnames(self, classnames: Sequence[str], token_embedding: nn.Embedding) -> None:
        raise NotImplementedError

    def attach(self, clip_model) -> None:
        """Called by PromptedCLIP before ``set_classnames``: size tensors that depend on the CLIP
        (CoCoOp's meta-net reads its image features). Most learners need nothing."""

    @property
    def text_depends_on_prompts(self) -> bool:
        return any(s.modality == "text" for s in self.specs.values())

    def regularizers(self, model, image_features: torch.Tensor, text_features: torch.Tensor,
                     logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """The learner's own training losses added to the cross-entropy (KgCoOp's, PromptSRC's), by
        name, weights applied. ``model`` is the :class:`PromptedCLIP` (its frozen encoders)."""
        return {}

    # Construction from a config node ----------------------------------------------------------
    @classmethod
    def from_config(cls, c, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                    dataset_name: str = "") -> "PromptLearner":
        """The learner of config ``c``; ``dataset_name`` (registry name) picks per-dataset templates."""
        raise NotImplementedError

    @classmethod
    def from_cfg(cls, node, token_embedding: nn.Embedding, vision_width: int, n_cls: int,
                 dataset_name: str = "") -> "PromptLearner":
        """The learner of a yacs node (its ``Config`` fields are read from it; other keys are ignored)."""
        return cls.from_config(read_config(cls.Config, node), token_embedding, vision_width, n_cls, dataset_name)


def deep_prompt_names(prefix: str, depth: int) -> list[str]:
    return [f"{prefix}_deep_{i}" for i in range(1, depth)]


def _n_tokens(text: str) -> int:
    """BPE tokens of ``text`` (without SOS/EOS)."""
    return int((clip.tokenize(text)[0] != 0).sum()) - 2


class ClassPrompts(nn.Module):
    """Class-name prompts ``[SOS] [ctx_1..ctx_n] [class] . [EOS]`` (CoOp's layout).

    The token embeddings of everything but the context are non-persistent buffers: they are
    rebuilt from the class names, never saved, so prompts trained on base classes load for
    new classes. ``position`` is CoOp's ``CLASS_TOKEN_POSITION`` (end, middle or front).

    ``ctx_init`` (e.g. "a photo of a") is the text the context starts from: the prompt reads
    ``"{ctx_init} {class}."`` and its first ``n_ctx`` tokens become the learnable context (the
    rest of the phrase stays fixed text). A phrase shorter than ``n_ctx`` tokens cannot hold the
    context; then, as in the CoOp/MaPLe/PromptSRC releases, the context is random and the
    placeholder text is ``"X X ... X"``.
    """

    def __init__(self, n_ctx: int, ctx_init: str = "", position: str = "end", csc: bool = False) -> None:
        super().__init__()
        if position not in ("end", "middle", "front"):
            raise ValueError(f"CLASS_TOKEN_POSITION must be end, middle or front, not {position!r}")
        if n_ctx < 0:
            raise ValueError(f"The number of context tokens must be >= 0, not {n_ctx}")
        self.n_ctx = n_ctx
        phrase = ctx_init.replace("_", " ").strip()
        self.ctx_init = phrase if phrase and (n_ctx == 0 or _n_tokens(phrase) >= n_ctx) else ""
        self.position = position
        self.csc = csc
        self.n_cls = 0

    def prompt_prefix(self) -> str:
        return self.ctx_init if self.ctx_init else " ".join(["X"] * self.n_ctx)

    def init_context(self, token_embedding: nn.Embedding, n_cls: int = 1, std: float = 0.02) -> torch.Tensor:
        """``(n_ctx, D)`` (or ``(n_cls, n_ctx, D)`` with CSC): from ``ctx_init`` if set, else N(0, std)."""
        width = token_embedding.weight.shape[1]
        if self.ctx_init:
            with torch.no_grad():
                tokens = clip.tokenize(self.ctx_init).to(token_embedding.weight.device)
                ctx = token_embedding(tokens)[0, 1: 1 + self.n_ctx].float().clone()
            return ctx.unsqueeze(0).repeat(n_cls, 1, 1) if self.csc else ctx
        shape = (n_cls, self.n_ctx, width) if self.csc else (self.n_ctx, width)
        return torch.empty(shape).normal_(std=std)

    @torch.no_grad()
    def set_classnames(self, classnames: Sequence[str], token_embedding: nn.Embedding) -> None:
        names = [name.replace("_", " ") for name in classnames]
        prefix = self.prompt_prefix()
        device = token_embedding.weight.device
        tokens = torch.cat([clip.tokenize(f"{prefix} {name}." if prefix else f"{name}.") for name in names]).to(device)
        emb = token_embedding(tokens)
        self.register_buffer("tokenized", tokens, persistent=False)
        self.register_buffer("token_prefix", emb[:, :1].clone(), persistent=False)
        self.register_buffer("token_suffix", emb[:, 1 + self.n_ctx:].clone(), persistent=False)
        self.name_lens = [len(clip.tokenize(name)[0].nonzero()) - 2 for name in names]
        self.n_cls = len(names)

    def embeddings(self, ctx: torch.Tensor | None) -> torch.Tensor:
        """``(n_cls, L, D)`` prompt embeddings with ``ctx`` in place (``None``: no context)."""
        prefix, suffix = self.token_prefix, self.token_suffix
        if ctx is None or self.n_ctx == 0:
            return torch.cat([prefix, suffix], dim=1)
        ctx = ctx.to(prefix.dtype)
        if ctx.dim() == 2:
            ctx = ctx.unsqueeze(0).expand(self.n_cls, -1, -1)
        if self.position == "end":
            return torch.cat([prefix, ctx, suffix], dim=1)
        rows = []
        half = self.n_ctx // 2
        for i, n in enumerate(self.name_lens):
            cls_tok, rest = suffix[i: i + 1, :n], suffix[i: i + 1, n:]
            if self.position == "middle":
                rows.append(torch.cat([prefix[i: i + 1], ctx[i: i + 1, :half], cls_tok, ctx[i: i + 1, half:], rest], 1))
            else:
                rows.append(torch.cat([prefix[i: i + 1], cls_tok, ctx[i: i + 1], rest], 1))
        return torch.cat(rows, dim=0)

    def eot_index(self) -> torch.Tensor:
        return self.tokenized.argmax(dim=-1)
