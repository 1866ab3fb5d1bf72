"""Prompted CLIP encoders that drive the ``clip`` package's own modules.

No patched copy of CLIP: these run CLIP's embeddings, residual blocks, final norms and
projections one by one and put prompt tokens in between blocks.

* Text: the caller builds the input token embeddings (context vectors already in place); a deep
  prompt for layer ``i >= 1`` *replaces* the tokens ``[start, start + n)`` at that layer's input.
* Vision: shallow prompts are appended after CLS + patches (after the positional embedding,
  before ``ln_pre``); a deep prompt for layer ``i >= 1`` replaces the last ``n`` tokens.

``deep[i]`` is ``None`` where a layer gets no new prompt (the previous tokens flow on).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .openai import CLIP

Deep = Sequence["torch.Tensor | None"]


def _replace_rows(x: torch.Tensor, start: int, prompt: torch.Tensor) -> torch.Tensor:
    """Out-of-place ``x[start:start+n] = prompt`` for LND ``x`` (prompt: ``(n, D)``, shared by the batch)."""
    n = prompt.shape[0]
    p = prompt.to(x.dtype).unsqueeze(1).expand(-1, x.shape[1], -1)
    return torch.cat([x[:start], p, x[start + n:]], dim=0)


def _causal_block(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """CLIP's text block on a sequence shorter than its mask: the mask's leading square is the
    causal mask of that length (OpenAI's block would apply its full 77 x 77 mask)."""
    mask = block.attn_mask
    if mask is not None:
        mask = mask[: x.shape[0], : x.shape[0]].to(dtype=x.dtype, device=x.device)
    h = block.ln_1(x)
    x = x + block.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
    return x + block.mlp(block.ln_2(x))


class PromptedTextEncoder(nn.Module):
    # False runs all 77 positions as CLIP does: same features up to fp32 rounding, for benchmarks
    # that show the cost of the padding side by side.
    stop_at_eot = True

    def __init__(self, clip_model: CLIP) -> None:
        super().__init__()
        self.blocks = clip_model.transformer.resblocks
        self.positional_embedding = clip_model.positional_embedding
        self.ln_final = clip_model.ln_final
        self.text_projection = clip_model.text_projection
        self.dtype = clip_model.dtype

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    def forward(self, embeddings: torch.Tensor, eot_index: torch.Tensor, deep: Deep = (),
                deep_start: int = 1) -> torch.Tensor:
        """``embeddings``: ``(N, L, D)`` token embeddings; returns ``(N, embed_dim)`` features.

        Only the positions up to the last end-of-text token are encoded: under the causal mask no
        position attends to a later one, so the padding after it cannot change any feature that is
        read out, and a 77-token context usually holds under 20 real tokens.
        """
        length = int(eot_index.max()) + 1 if self.stop_at_eot else embeddings.shape[1]
        x = embeddings[:, :length].to(self.dtype) + self.positional_embedding[:length].to(self.dtype)
        x = x.permute(1, 0, 2)
        for i, block in enumerate(self.blocks):
            if 0 < i < len(deep) and deep[i] is not None:
                x = _replace_rows(x, deep_start, deep[i])
            x = _causal_block(block, x)
        x = self.ln_final(x.permute(1, 0, 2)).to(self.dtype)
        return x[torch.arange(x.shape[0], device=x.device), eot_index] @ self.text_projection


class PromptedImageEncoder(nn.Module):
    def __init__(self, clip_model: CLIP) -> None:
        super().__init__()
        self.visual = clip_model.visual
        self.dtype = clip_model.dtype
        self.is_vit = hasattr(self.visual, "class_embedding")  # else a ModifiedResNet: no tokens to prompt

    @property
    def num_layers(self) -> int:
        return len(self.visual.transformer.resblocks) if self.is_vit else 0

    def forward(self, images: torch.Tensor, shallow: torch.Tensor | None = None, deep: Deep = ()) -> torch.Tensor:
        v = self.visual
        if not self.is_vit:
            if shallow is not None or any(d is not None for d in deep):
                raise ValueError("vision prompts need a ViT image encoder; this CLIP's is a ResNet")
            return v(images.to(self.dtype))
        x = v.conv1(images.to(self.dtype))
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = v.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1) + v.positional_embedding.to(x.dtype)
        if shallow is not None:
            x = torch.cat([x, shallow.to(x.dtype).unsqueeze(0).expand(x.shape[0], -1, -1)], dim=1)
        x = v.ln_pre(x).permute(1, 0, 2)
        n_prompt = 0 if shallow is None else shallow.shape[0]
        for i, block in enumerate(v.transformer.resblocks):
            if 0 < i < len(deep) and deep[i] is not None:
                x = _replace_rows(x, x.shape[0] - n_prompt, deep[i])
            x = block(x)
        x = v.ln_post(x.permute(1, 0, 2)[:, 0, :])
        return x @ v.proj if v.proj is not None else x
