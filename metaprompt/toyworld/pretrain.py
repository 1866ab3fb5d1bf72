"""Pretrain the toy CLIP contrastively on rendered scenes and their captions (deterministic).

    python -m metaprompt.toyworld.pretrain [--backbone toy-vit|toy-vit-l12] --out PATH [--steps N] [--force]

``--backbone`` picks the architecture and the recipe's defaults (``PRESETS``): ``toy-vit-l12``
pretrains on the template world (``template_world.py``) with the logit scale held at CLIP's 100.

Every batch is rendered afresh from one seeded generator, so the data stream, the initial
weights and hence the result are a function of the seed (on one machine and thread count:
float sums may round differently elsewhere). If PATH already holds a checkpoint made with the
same settings it is kept ("cached"); ``--force`` retrains. Runs single-threaded by default:
on a shared CPU, torch's thread pool waiting on busy cores made a step ten times slower.

Captions are truncated to the longest one in the batch: CLIP's text transformer is causal,
so the end-of-text feature never sees the padding after it and the result is the same as at
the full 77 tokens, at a quarter of the cost. Only the caption vocabulary's embedding rows
are trained (a compact table indexed through a lookup), as only they ever get a gradient.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..clip.openai import clip
from .captions import describe, sample_scene, vocabulary
from .model import EMBEDDING, TOY_BACKBONES, build_toy_clip, load_toy_clip, read_toy_checkpoint, save_toy_clip, \
    vocabulary_token_ids
from .template_world import describe_templates, sample_scene_templates, vocabulary_templates
from .render import COLOURS, render
from .tasks import TASKS
from .zeroshot import to_input, zero_shot_accuracy


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 4000
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.1
    seed: int = 0
    threads: int = 1
    colours_per_batch: int = 3  # 0: any colour; k: each batch uses k random colours (see make_batch)
    world: str = "basic"  # "templates": scenes under CLIP's template conditions, captions in their words
    logit_scale: float = 0.0  # 0: learned from CLIP's init (clamped at 100); > 0: held at this value


# Fields added after toy-vit was shipped: recorded in a checkpoint only when they differ from their
# defaults, so that the shipped toy-vit's recorded settings still match its recipe (cache check).
_LATER_FIELDS = ("world", "logit_scale")
WORLDS = ("basic", "templates")


class CompactText(nn.Module):
    """The text tower run on truncated captions with a compact embedding of the caption vocabulary."""

    def __init__(self, model, token_ids: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("token_ids", token_ids)
        lookup = torch.full((model.vocab_size,), -1, dtype=torch.long)
        lookup[token_ids] = torch.arange(len(token_ids))
        self.register_buffer("lookup", lookup)
        self.embedding = nn.Parameter(model.token_embedding.weight.detach()[token_ids].clone())
        self.full_mask = model.build_attention_mask()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        m = self.model
        length = int(tokens.argmax(dim=-1).max()) + 1  # end-of-text has the largest id
        tokens = tokens[:, :length]
        compact = self.lookup[tokens].masked_fill(tokens == 0, 0)  # padding: after end-of-text, never seen
        if (compact < 0).any():
            raise ValueError("a caption uses a word outside captions.vocabulary(): add it there")
        x = self.embedding[compact] + m.positional_embedding[:length]
        mask = self.full_mask[:length, :length]
        for block in m.transformer.resblocks:
            block.attn_mask = mask
        x = m.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = m.ln_final(x)
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ m.text_projection

    def write_back(self) -> None:
        """Copy the trained rows into the full embedding and restore the full-length attention masks."""
        with torch.no_grad():
            self.model.token_embedding.weight.zero_()
            self.model.token_embedding.weight[self.token_ids] = self.embedding
        for block in self.model.transformer.resblocks:
            block.attn_mask = self.full_mask


def _param_groups(model: nn.Module, extra: list[nn.Parameter], weight_decay: float) -> list[dict]:
    """Weight decay on matrices only (not on norms, biases, embeddings, the temperature)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if name == EMBEDDING or not p.requires_grad:
            continue  # the embedding is trained through CompactText
        (decay if p.ndim >= 2 and "embedding" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay + extra, "weight_decay": 0.0}]


def _lr_at(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * t))


def make_batch(rng: np.random.Generator, batch_size: int, colours_per_batch: int = 0, world: str = "basic"
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rendered images and tokenized captions, all drawn from ``rng``.

    With ``colours_per_batch`` k, every scene of the batch takes one of k random colours, so that colour
    (learned first, being linear in the pixels) cannot tell most pairs apart and the loss keeps pushing
    on shape, pattern and style (with any colour allowed, shapes were learned about half as well).
    """
    colours = tuple(COLOURS)
    if colours_per_batch:
        colours = tuple(str(c) for c in rng.choice(colours, size=colours_per_batch, replace=False))
    sample, caption = (sample_scene, describe) if world == "basic" else (sample_scene_templates, describe_templates)
    scenes = [sample(rng, colours) for _ in range(batch_size)]
    images = np.stack([render(s, rng) for s in scenes])
    captions = [caption(s, rng) for s in scenes]
    return to_input(images), clip.tokenize(captions)


def evaluate(model, per_class: int = 30) -> dict[str, float]:
    """Zero-shot accuracy with "a photo of a {class}." on each toy task's base and new classes."""
    return {f"{name}/{split}": round(zero_shot_accuracy(model, task, split, per_class), 2)
            for name, task in TASKS.items() for split in ("base", "new")}


PRESETS = {"toy-vit": PretrainConfig(),
           "toy-vit-l12": PretrainConfig(steps=4000, warmup_steps=300, world="templates", logit_scale=100.0)}


def recorded_settings(cfg: PretrainConfig) -> dict:
    """The recipe as written into the checkpoint (later fields only where they are not their defaults)."""
    default = PretrainConfig()
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _LATER_FIELDS or v != getattr(default, k)}


def pretrain(cfg: PretrainConfig, spec: dict = TOY_BACKBONES["toy-vit"][1], log=print):
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _pretrain(cfg, spec, log)
    finally:
        torch.set_num_threads(threads)  # a caller's thread pool is left as it was


def _pretrain(cfg: PretrainConfig, spec: dict, log):
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    if cfg.world not in WORLDS:
        raise ValueError(f"unknown world {cfg.world!r}; choose one of {WORLDS}")
    model = build_toy_clip(cfg.seed, spec).train()
    if cfg.logit_scale > 0:  # held, as CLIP's own sat at its clamp of 100 for most of its training
        model.logit_scale.data.fill_(math.log(cfg.logit_scale))
        model.logit_scale.requires_grad_(False)
    words = vocabulary() if cfg.world == "basic" else vocabulary_templates()
    text = CompactText(model, vocabulary_token_ids(words))
    optim = torch.optim.AdamW(_param_groups(model, [text.embedding], cfg.weight_decay), lr=cfg.lr,
                              betas=(0.9, 0.98), eps=1e-6)
    start, cpu_start = time.time(), time.process_time()
    for step in range(cfg.steps):
        for group in optim.param_groups:
            group["lr"] = _lr_at(step, cfg)
        images, tokens = make_batch(rng, cfg.batch_size, cfg.colours_per_batch, cfg.world)
        image_features = F.normalize(model.encode_image(images), dim=-1)
        text_features = F.normalize(text(tokens), dim=-1)
        logits = model.logit_scale.exp() * image_features @ text_features.t()
        target = torch.arange(len(logits))
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % 100 == 0 or step == cfg.steps - 1:
            acc = (logits.argmax(1) == target).float().mean().item() * 100
            log(f"step {step + 1}/{cfg.steps}  loss {loss.item():.3f}  batch acc {acc:.1f}%  "
                f"scale {model.logit_scale.exp().item():.1f}  {time.time() - start:.0f}s ({time.process_time() - cpu_start:.0f}s CPU)")
    text.write_back()
    return model.eval(), text.token_ids


def main(argv: list[str] | None = None) -> int:
    chooser = argparse.ArgumentParser(add_help=False)
    chooser.add_argument("--backbone", choices=tuple(PRESETS), default="toy-vit")
    backbone = chooser.parse_known_args(argv)[0].backbone
    defaults, spec = PRESETS[backbone], TOY_BACKBONES[backbone][1]
    p = argparse.ArgumentParser(description="Pretrain a toy CLIP (deterministic; cached at --out).")
    p.add_argument("--backbone", choices=tuple(PRESETS), default="toy-vit",
                   help="the architecture, and the recipe whose defaults the options below start from")
    p.add_argument("--out", required=True, help="checkpoint file to write")
    for field in dataclasses.fields(PretrainConfig):
        p.add_argument(f"--{field.name.replace('_', '-')}", type=type(getattr(defaults, field.name)),
                       default=getattr(defaults, field.name))
    p.add_argument("--force", action="store_true", help="retrain even if --out holds a checkpoint of these settings")
    args = p.parse_args(argv)
    cfg = PretrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainConfig)})
    if cfg.world not in WORLDS:
        p.error(f"--world must be one of {WORLDS}, got {cfg.world!r}")
    settings = {"pretrain": recorded_settings(cfg), "spec": spec}
    if os.path.isfile(args.out) and not args.force:
        meta = read_toy_checkpoint(args.out)["meta"]
        if {k: meta.get(k) for k in settings} == settings:
            print(f"{args.out} already holds a toy CLIP pretrained with these settings (cached); --force retrains.")
            return 0
    start = time.time()
    model, token_ids = pretrain(cfg, spec)
    seconds = time.time() - start
    zero_shot = evaluate(model)
    meta = {**settings, "zero_shot": zero_shot, "seconds": round(seconds),
            "logit_scale": round(float(model.logit_scale.exp()), 2)}
    save_toy_clip(model, token_ids, args.out, spec, meta)
    reloaded = evaluate(load_toy_clip(args.out))  # what users get: the fp16 file
    print(f"Pretrained in {seconds:.0f}s; logit scale {meta['logit_scale']}; zero-shot accuracy (%), 'a photo of a {{class}}.':")
    for key, value in reloaded.items():
        print(f"  {key:22s} {value:6.2f}")
    print(f"Saved {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
