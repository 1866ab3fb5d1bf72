"""A synthetic image-text corpus with real structure, for tests and the embedded default.

Each pair shows one coloured object drawn in one of a few visual styles, with a caption built
from a small vocabulary (objects, colours, sizes, styles). Captions group into concepts
(colour + object) and images of one concept differ by style, so the two-level clustering has
pseudo-classes and domains to find. It writes the layouts GRAM reads (:mod:`metaprompt.corpus_files`).

    python -m metaprompt.meta.gram.synthetic_corpus OUT_DIR [--pairs 600] [--seed 0] [--shards 0]
"""
from __future__ import annotations

import math
import random
import sys

from PIL import Image, ImageDraw, ImageFilter

from ...corpus_files import corpus_main, write_corpus

OBJECTS = ("circle", "square", "triangle", "diamond", "cross", "ring", "bar", "star")
COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 220, 40),
          "purple": (140, 50, 170), "orange": (240, 140, 30), "white": (240, 240, 240), "cyan": (40, 210, 220),
          "pink": (240, 130, 190), "brown": (130, 80, 40)}
SIZES = ("small", "large")
STYLES = ("photo", "sketch", "striped", "noisy", "blurry")  # the visual "domains"
TEMPLATES = ("a {size} {color} {object}", "a photo of a {color} {object}", "a {style} image of a {color} {object}",
             "{color} {object}, {style} style", "a {size} {color} {object} in {style} style",
             "there is a {color} {object} here")
SIZE_PX = 48


def _shape(d: ImageDraw.ImageDraw, obj: str, cx: int, cy: int, r: int, fill, outline_only: bool) -> None:
    kw = {"outline": fill, "width": 3} if outline_only else {"fill": fill}
    box = [cx - r, cy - r, cx + r, cy + r]
    if obj == "circle":
        d.ellipse(box, **kw)
    elif obj == "square":
        d.rectangle(box, **kw)
    elif obj == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], **kw)
    elif obj == "diamond":
        d.polygon([(cx, cy - r), (cx - r, cy), (cx, cy + r), (cx + r, cy)], **kw)
    elif obj == "cross":
        t = max(2, r // 3)
        d.rectangle([cx - r, cy - t, cx + r, cy + t], **kw)
        d.rectangle([cx - t, cy - r, cx + t, cy + r], **kw)
    elif obj == "ring":
        d.ellipse(box, outline=fill, width=max(3, r // 3))
    elif obj == "bar":
        d.rectangle([cx - r, cy - r // 3, cx + r, cy + r // 3], **kw)
    else:  # star
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else r // 2
            angle = math.pi * (i / 5 - 0.5)
            pts.append((cx + rad * math.cos(angle), cy + rad * math.sin(angle)))
        d.polygon(pts, **kw)


def draw(rng: random.Random, obj: str, color: str, size: str, style: str) -> Image.Image:
    """One image; ``style`` sets the background and rendering (what the level-2 clusters find)."""
    if style == "sketch":
        bg = tuple(rng.randint(200, 245) for _ in range(3))
    else:
        bg = tuple(rng.randint(0, 70) for _ in range(3))
    img = Image.new("RGB", (SIZE_PX, SIZE_PX), bg)
    d = ImageDraw.Draw(img)
    if style == "striped":
        stripe = tuple(min(255, c + 90) for c in bg)
        step = rng.randint(5, 8)
        for x in range(-SIZE_PX, SIZE_PX, step):
            d.line([(x, 0), (x + SIZE_PX, SIZE_PX)], fill=stripe, width=2)
    elif style == "noisy":
        for _ in range(300):
            x, y = rng.randrange(SIZE_PX), rng.randrange(SIZE_PX)
            v = rng.randint(60, 200)
            d.point((x, y), fill=(v, v, v))
    r = rng.randint(6, 10) if size == "small" else rng.randint(14, 19)
    cx, cy = rng.randint(r, SIZE_PX - r), rng.randint(r, SIZE_PX - r)
    fill = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in COLORS[color])
    _shape(d, obj, cx, cy, r, fill, outline_only=(style == "sketch"))
    if style == "blurry":
        img = img.filter(ImageFilter.GaussianBlur(radius=2.0))
    return img


def sample_pairs(n_pairs: int, seed: int) -> list[tuple[Image.Image, str]]:
    rng = random.Random(seed)  # private stream: generating never shifts the caller's randomness
    pairs = []
    for _ in range(n_pairs):
        obj, color = rng.choice(OBJECTS), rng.choice(sorted(COLORS))
        size, style = rng.choice(SIZES), rng.choice(STYLES)
        caption = rng.choice(TEMPLATES).format(size=size, color=color, object=obj, style=style)
        pairs.append((draw(rng, obj, color, size, style), caption))
    return pairs


def generate(out_dir: str, n_pairs: int = 600, seed: int = 0, shards: int = 0) -> None:
    """Write this corpus to ``out_dir`` (atomically; refuses to overwrite)."""
    write_corpus(out_dir, sample_pairs, n_pairs, seed, shards)


def main(argv: list[str] | None = None) -> int:
    return corpus_main(argv, sample_pairs, default_pairs=600, what="a synthetic image-text corpus")


if __name__ == "__main__":
    sys.exit(main())
