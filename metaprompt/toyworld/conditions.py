"""Image conditions named by CLIP's ImageNet templates, drawn into a rendered toy image.

CLIP's 60 templates ("a blurry photo of a {}.", "a dark photo of the {}.", ...) describe how a
picture was taken as much as what it shows. A toy CLIP can only mean those words if its
pretraining pairs them with images that look that way, so each condition here is a transform of
a finished 32 px image: blur, darkness, a cut-off crop, JPEG blocks, and so on. Materials a flat
rendered scene cannot show (plastic, origami, embroidered, tattoo, ...) have no condition: the
coverage table (``template_world.coverage``) lists them as not taught.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Geometry:
    """Where the object is, in output pixels (a texture: the image centre and half its side)."""
    cx: float
    cy: float
    r: float
    mask: np.ndarray  # (H, W) coverage of the object in [0, 1]


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, np.float32)


def _window(img: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
    """The square window of ``side`` px around (cx, cy), kept inside the image, scaled back up."""
    res = img.shape[0]
    side = float(np.clip(side, 6, res))
    x0, y0 = np.clip(cx - side / 2, 0, res - side), np.clip(cy - side / 2, 0, res - side)
    return _arr(_pil(img).resize((res, res), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side)))


def blurry(img, g, rng):
    return _arr(_pil(img).filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 1.6))))


def dark(img, g, rng):
    return img * rng.uniform(0.2, 0.35)


def bright(img, g, rng):
    return 255 - (255 - img) * rng.uniform(0.25, 0.4)


def black_and_white(img, g, rng):
    return np.repeat(img @ np.array([0.299, 0.587, 0.114], np.float32), 3).reshape(img.shape)


def low_resolution(img, g, rng):
    res, small = img.shape[0], int(rng.integers(9, 13))
    return _arr(_pil(img).resize((small, small), Image.BOX).resize((res, res), Image.BILINEAR))


def pixelated(img, g, rng):
    res, small = img.shape[0], int(rng.choice([6, 8]))
    return _arr(_pil(img).resize((small, small), Image.BOX).resize((res, res), Image.NEAREST))


def jpeg_corrupted(img, g, rng):
    buffer = io.BytesIO()
    _pil(img).save(buffer, format="JPEG", quality=int(rng.integers(4, 10)))
    return _arr(Image.open(buffer).convert("RGB"))


def cropped(img, g, rng):
    """A window that cuts part of the object away: its centre sits near the window's edge."""
    side = rng.uniform(0.5, 0.7) * img.shape[0]
    angle = rng.uniform(0, 2 * np.pi)
    return _window(img, g.cx + 0.4 * side * np.cos(angle), g.cy + 0.4 * side * np.sin(angle), side)


def close_up(img, g, rng):
    """The object fills the frame."""
    return _window(img, g.cx, g.cy, 2 * g.r * rng.uniform(0.8, 1.0))


def hard_to_see(img, g, rng):
    mean = img.mean(axis=(0, 1), keepdims=True)
    return mean + (img - mean) * rng.uniform(0.12, 0.22) + rng.normal(0, 5, img.shape)


def dirty(img, g, rng):
    """Smudges of brown-grey dirt over the picture."""
    res = img.shape[0]
    yy, xx = np.mgrid[0:res, 0:res].astype(np.float32)
    alpha = np.zeros((res, res), np.float32)
    for _ in range(int(rng.integers(4, 8))):
        x, y, s = rng.uniform(0, res), rng.uniform(0, res), rng.uniform(1.5, 3.5)
        alpha = np.maximum(alpha, np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s * s)) * rng.uniform(0.6, 0.9))
    dirt = np.array([95, 75, 50], np.float32) + rng.normal(0, 10, (res, res, 3))
    return img * (1 - alpha[..., None]) + dirt * alpha[..., None]


def rendering(img, g, rng):
    """Computer-graphics look: no sensor noise, the object shaded like a lit solid with a highlight."""
    res = img.shape[0]
    smooth = _arr(_pil(img).filter(ImageFilter.GaussianBlur(0.7)))
    yy, xx = np.mgrid[0:res, 0:res].astype(np.float32)
    hx, hy = g.cx - 0.4 * g.r, g.cy - 0.4 * g.r
    d = np.sqrt((xx - hx) ** 2 + (yy - hy) ** 2) / max(g.r, 1.0)
    light = np.clip(1.35 - 0.55 * d, 0.45, 1.35) + 0.6 * np.exp(-(d * 3.0) ** 2)
    shade = 1 + (light - 1) * g.mask
    return smooth * shade[..., None]


def bad(img, g, rng):
    """A bad photo: blurred, dim and noisy at once, each mildly."""
    img = _arr(_pil(img).filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.0))))
    return img * rng.uniform(0.5, 0.7) + rng.normal(0, 14, img.shape)


# name -> transform (image float HWC in [0, 255], geometry, rng) -> image
CONDITIONS: dict[str, Callable[[np.ndarray, Geometry, np.random.Generator], np.ndarray]] = {
    "blurry": blurry, "dark": dark, "bright": bright, "black and white": black_and_white,
    "low resolution": low_resolution, "pixelated": pixelated, "jpeg corrupted": jpeg_corrupted,
    "cropped": cropped, "close-up": close_up, "hard to see": hard_to_see, "dirty": dirty,
    "rendering": rendering, "bad": bad,
}


def apply_condition(name: str, img: np.ndarray, geometry: Geometry, rng: np.random.Generator) -> np.ndarray:
    return CONDITIONS[name](np.asarray(img, np.float32), geometry, rng)


__all__ = ["CONDITIONS", "Geometry", "apply_condition"]
