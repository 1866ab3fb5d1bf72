"""Evaluation time with class text features encoded once per evaluation vs re-encoded per batch.

The CoOp-family releases call the whole prompted CLIP on every test batch, so the class texts go
through the text encoder once per batch although they do not depend on the image. This project's
``PromptTrainer.test`` encodes them once per evaluation (``PromptedCLIP.cached_text_features``).
This script times both on the same model, inputs and label set, interleaved, and prints the ratio.

    python benchmarks/eval_text_cache.py                      # tiny CLIP on CPU, 1,000 classes
    python benchmarks/eval_text_cache.py --backbone vit-b16-random --device cuda [--prec fp16]

Random weights: the timings are real, the logits meaningless (and identical in both modes).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from metaprompt.clip import half_weights, load_clip
from metaprompt.learners import IVLPLearner, PromptedCLIP


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="tiny-vit", help="tiny-vit (default) or vit-b16-random")
    p.add_argument("--device", default="cpu")
    p.add_argument("--prec", choices=("fp32", "fp16"), default="fp32")
    p.add_argument("--classes", type=int, default=1000, help="size of the label set")
    p.add_argument("--images", type=int, default=500, help="test images per evaluation")
    p.add_argument("--batch-size", type=int, default=100, help="test batch size (the releases use 100)")
    p.add_argument("--repeats", type=int, default=3, help="timed evaluations per mode (median reported)")
    return p.parse_args()


def build(args: argparse.Namespace) -> PromptedCLIP:
    clip_model = load_clip(args.backbone)
    if args.prec == "fp16":
        half_weights(clip_model)  # as the trainers: CLIP's own conversion, LayerNorm fp32
    depth = min(9, len(clip_model.transformer.resblocks), len(clip_model.visual.transformer.resblocks))
    # IVLP 4+4 (ProMetaR's base learner) so that both towers carry prompts.
    learner = IVLPLearner(clip_model.token_embedding, clip_model.visual.conv1.out_channels, depth_text=depth,
                          depth_vision=depth).to(clip_model.dtype)
    classnames = [f"category number {i}" for i in range(args.classes)]
    return PromptedCLIP(clip_model, learner, classnames).to(args.device).eval()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def evaluate(model: PromptedCLIP, batches: list[torch.Tensor], cached: bool) -> tuple[float, torch.Tensor]:
    """Seconds for one evaluation pass, and its logits."""
    device = batches[0].device
    sync(device)
    start = time.perf_counter()
    if cached:
        with model.cached_text_features():
            logits = [model(b) for b in batches]
    else:
        logits = [model(b) for b in batches]  # the releases' way: text re-encoded per batch
    sync(device)
    return time.perf_counter() - start, torch.cat(logits)


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    model = build(args)
    size = model.image_encoder.visual.input_resolution
    g = torch.Generator().manual_seed(0)
    images = torch.randn(args.images, 3, size, size, generator=g).to(device, model.dtype)
    batches = list(images.split(args.batch_size))

    evaluate(model, batches[:1], cached=True)  # warm-up (allocator, kernels)
    evaluate(model, batches[:1], cached=False)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):  # interleaved, so load changes on the machine hit both modes alike
        for cached in (True, False):
            seconds, logits = evaluate(model, batches, cached)
            times[cached].append(seconds)
            if cached:
                reference = logits
            else:
                max_diff = (logits - reference).abs().max().item()

    cached_s, per_batch_s = statistics.median(times[True]), statistics.median(times[False])
    print(f"backbone {args.backbone} on {device} ({args.prec}, {torch.get_num_threads()} CPU threads), "
          f"{args.classes:,} classes, {args.images} images in {len(batches)} batches of {args.batch_size}, "
          f"median of {args.repeats} interleaved evaluations")
    print(f"{'text features':<34}{'text encodings':>15}{'seconds':>10}{'images/s':>10}")
    print(f"{'cached once per evaluation':<34}{1:>15}{cached_s:>10.3f}{args.images / cached_s:>10.1f}")
    print(f"{'re-encoded per batch (releases)':<34}{len(batches):>15}{per_batch_s:>10.3f}"
          f"{args.images / per_batch_s:>10.1f}")
    print(f"ratio (per batch / cached): {per_batch_s / cached_s:.2f}x   max |logit difference|: {max_diff:.2e}")


if __name__ == "__main__":
    main()
