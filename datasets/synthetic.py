"""A small synthetic dataset in a CoOp layout that writes itself: for tests and CPU smoke runs.

``synthetic/images/<class>/<i>.png`` and ``split_zhou_Synthetic.json``; 10 classes of coloured
shapes, 48 px, 20 train / 8 val / 12 test images each. It is generated once under the data root
(with a private random generator, so the run's random stream is untouched) and reused. With a
random-weight CLIP its accuracies are a smoke test, not a measurement.
"""
from __future__ import annotations

import os
import random

from PIL import Image, ImageDraw

from metaprompt.runtime import register_dataset

from .base import GeneratedDataset, write_rendered_dataset

CLASSES = [("red", "circle"), ("green", "square"), ("blue", "triangle"), ("yellow", "circle"),
           ("purple", "square"), ("orange", "triangle"), ("white", "circle"), ("cyan", "square"),
           ("pink", "triangle"), ("brown", "diamond")]
COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 220, 40),
          "purple": (140, 50, 170), "orange": (240, 140, 30), "white": (240, 240, 240), "cyan": (40, 210, 220),
          "pink": (240, 130, 190), "brown": (130, 80, 40)}
COUNTS = {"train": 20, "val": 8, "test": 12}
SIZE = 48


def _draw(rng: random.Random, color: str, shape: str) -> Image.Image:
    bg = tuple(rng.randint(0, 90) for _ in range(3))
    img = Image.new("RGB", (SIZE, SIZE), bg)
    d = ImageDraw.Draw(img)
    r = rng.randint(9, 18)
    cx, cy = rng.randint(r, SIZE - r), rng.randint(r, SIZE - r)
    fill = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in COLORS[color])
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy), (cx, cy + r), (cx + r, cy)], fill=fill)
    return img


def generate(dataset_dir: str, seed: int = 0) -> None:
    """Write the dataset atomically (a temporary folder renamed into place)."""
    rng = random.Random(seed)
    write_rendered_dataset(dataset_dir, [f"{color} {shape}" for color, shape in CLASSES], COUNTS,
                           lambda label: _draw(rng, *CLASSES[label]), Synthetic.split_name)


@register_dataset
class Synthetic(GeneratedDataset):
    dataset_dir = "synthetic"
    image_subdir = "images"
    split_name = "split_zhou_Synthetic.json"

    def prepare(self, dataset_dir: str) -> None:
        if not os.path.exists(dataset_dir):
            print(f"Generating the synthetic dataset in {dataset_dir}")
            generate(dataset_dir)
