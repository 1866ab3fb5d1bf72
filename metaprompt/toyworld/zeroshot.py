"""Zero-shot classification of rendered toy-task images with a CLIP: the check that words carry meaning.

    python -m metaprompt.toyworld.zeroshot [--backbones toy-vit toy-vit-l12] [--per-class 30]

prints, per toy backbone, task and split, the accuracy of "a photo of a {}." and of ProMetaR's text
teacher (the 60 ImageNet templates' features averaged, as ``meta.regularizers.text_teacher``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..clip.openai import CLIP, clip
from .tasks import Task, sample_task_images

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TEMPLATE = "a photo of a {}."  # the prompt CoOp's base-to-new recipe starts from


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> CLIP-normalized float NCHW (what the test transform makes of a 32 px image)."""
    x = torch.from_numpy(images).float().permute(0, 3, 1, 2) / 255.0
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def class_features(model: CLIP, classnames: Sequence[str], templates: Sequence[str] = (TEMPLATE,)) -> torch.Tensor:
    """Per class, the text features averaged over ``templates`` (raw features, as ProMetaR's teacher)."""
    text = model.encode_text(clip.tokenize([t.format(c) for c in classnames for t in templates]))
    return text.reshape(len(classnames), len(templates), -1).mean(dim=1)


@torch.no_grad()
def classify(model: CLIP, images: torch.Tensor, classnames: Sequence[str], template: str | Sequence[str] = TEMPLATE
             ) -> torch.Tensor:
    """Predicted class index per image, by cosine similarity to the prompted class names (one template,
    or several averaged)."""
    text = class_features(model, classnames, (template,) if isinstance(template, str) else tuple(template))
    image = model.encode_image(images)
    text = text / text.norm(dim=-1, keepdim=True)
    image = image / image.norm(dim=-1, keepdim=True)
    return (image @ text.t()).argmax(dim=1)


def zero_shot_accuracy(model: CLIP, task: Task, split: str = "new", per_class: int = 30, seed: int = 12345,
                       template: str | Sequence[str] = TEMPLATE) -> float:
    """Accuracy (percent) on freshly rendered images of the task's base, new or all classes."""
    n_base = task.num_base
    labels = {"base": range(n_base), "new": range(n_base, len(task.classnames)),
              "all": range(len(task.classnames))}[split]
    images, ys = sample_task_images(task, labels, per_class, seed)
    names = [task.classnames[i] for i in labels]
    pred = classify(model.eval(), to_input(images), names, template)
    return 100.0 * float((pred.numpy() == ys - labels[0]).mean())


def main(argv: list[str] | None = None) -> int:
    import argparse

    from ..clip.loading import load_clip
    from ..clip.templates import IMAGENET_TEMPLATES
    from .tasks import TASKS

    p = argparse.ArgumentParser(description="Zero-shot accuracy of the toy CLIPs: one prompt against the 60-template teacher.")
    p.add_argument("--backbones", nargs="+", default=["toy-vit", "toy-vit-l12"])
    p.add_argument("--per-class", type=int, default=30, help="fresh images per class (seed 12345)")
    args = p.parse_args(argv)
    print("| backbone | dataset | split | 'a photo of a {}.' | 60-template teacher |")
    print("|---|---|---|---|---|")
    for backbone in args.backbones:
        model = load_clip(backbone).eval()
        for name, task in TASKS.items():
            for split in ("base", "new"):
                one = zero_shot_accuracy(model, task, split, args.per_class)
                many = zero_shot_accuracy(model, task, split, args.per_class, template=IMAGENET_TEMPLATES)
                print(f"| {backbone} | {name} | {split} | {one:.1f} | {many:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
