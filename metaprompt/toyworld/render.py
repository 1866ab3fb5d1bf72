"""Procedural images of the toy world: one object (or a full-frame texture) from composable factors.

A :class:`Scene` names the factors a caption can talk about (shape, colour, pattern, background,
size, position, style); :func:`render` turns it into a 32 x 32 RGB image, drawing the continuous
nuisances (exact position, rotation, colour jitter, pattern phase, noise) from the generator it is
given, so an image is a deterministic function of (scene, generator state). Shapes are drawn at
twice the resolution and averaged down, which anti-aliases the edges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .conditions import CONDITIONS, Geometry, apply_condition

RES = 32  # output side, the tiny CLIP's input resolution
SS = 2  # supersampling factor of the drawing canvas
CANVAS = RES * SS

SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross", "ring", "crescent", "heart", "arrow",
          "hexagon", "bolt")
COLOURS = {"red": (215, 40, 40), "green": (45, 170, 60), "blue": (45, 80, 215), "yellow": (235, 215, 45),
           "purple": (135, 55, 175), "orange": (240, 135, 30), "white": (240, 240, 240), "cyan": (50, 205, 215),
           "pink": (245, 140, 195), "brown": (125, 80, 40)}
PATTERNS = ("plain", "striped", "dotted", "checkered", "gradient", "speckled", "zigzag", "grid", "concentric",
            "marbled")
BACKGROUNDS = ("black", "white", "gray", "noisy")
SIZES = ("small", "medium", "large")
POSITIONS = ("center", "left", "right", "top", "bottom")
STYLES = ("photo", "cartoon", "painting", "pixel", "sketch")

# Object radius in output pixels per size word.
_RADIUS = {"small": (6.0, 8.0), "medium": (8.5, 10.5), "large": (11.0, 13.5)}


@dataclass(frozen=True)
class Scene:
    """The factors of one image. ``shape=None`` is a full-frame texture (no object, no background)."""
    shape: str | None
    colour: str
    pattern: str = "plain"
    background: str = "black"
    size: str = "medium"
    position: str = "center"
    style: str = "photo"
    condition: str = "none"  # an image condition of CLIP's templates (conditions.py): blurry, dark, ...
    count: int = 1  # copies of the object ("a photo of many ..."), each drawn small


    def __post_init__(self) -> None:
        for value, allowed, what in ((self.colour, COLOURS, "colour"), (self.pattern, PATTERNS, "pattern"),
                                     (self.background, BACKGROUNDS, "background"), (self.size, SIZES, "size"),
                                     (self.position, POSITIONS, "position"), (self.style, STYLES, "style")):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose one of {tuple(allowed)}")
        if self.shape is not None and self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; choose one of {SHAPES}")
        if self.condition != "none" and self.condition not in CONDITIONS:
            raise ValueError(f"unknown condition {self.condition!r}; choose one of {('none', *CONDITIONS)}")
        if not 1 <= self.count <= 6 or (self.count > 1 and self.shape is None):
            raise ValueError(f"count must be 1 to 6 (and 1 for a texture), got {self.count}")


# -- shapes: polygons / ellipses in unit coordinates (radius 1), drawn into a canvas mask --------------
def _regular(n: int, r: float = 1.0, phase: float = -math.pi / 2) -> list[tuple[float, float]]:
    return [(r * math.cos(phase + 2 * math.pi * k / n), r * math.sin(phase + 2 * math.pi * k / n)) for k in range(n)]


def _star() -> list[tuple[float, float]]:
    outer, inner = _regular(5, 1.0), _regular(5, 0.42, -math.pi / 2 + math.pi / 5)
    return [p for pair in zip(outer, inner) for p in pair]


_POLYGONS = {
    "square": [(-0.82, -0.82), (0.82, -0.82), (0.82, 0.82), (-0.82, 0.82)],
    "triangle": [(0.0, -1.0), (0.95, 0.78), (-0.95, 0.78)],
    "diamond": [(0.0, -1.0), (0.72, 0.0), (0.0, 1.0), (-0.72, 0.0)],
    "star": _star(),
    "cross": [(-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3), (0.3, 1), (-0.3, 1),
              (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3)],
    "arrow": [(-1, -0.27), (0.1, -0.27), (0.1, -0.7), (1, 0), (0.1, 0.7), (0.1, 0.27), (-1, 0.27)],
    "hexagon": _regular(6, 1.0, 0.0),
    "bolt": [(0.25, -1), (-0.6, 0.12), (-0.05, 0.12), (-0.3, 1), (0.62, -0.2), (0.08, -0.2)],
}
# Shapes built from discs: (centre x, centre y, radius, add?) in unit coordinates, painted in order.
_DISCS = {
    "circle": [(0, 0, 1.0, True)],
    "ring": [(0, 0, 1.0, True), (0, 0, 0.56, False)],
    "crescent": [(0, 0, 1.0, True), (0.42, -0.2, 0.82, False)],
    "heart": [(-0.46, -0.34, 0.52, True), (0.46, -0.34, 0.52, True)],
}
_HEART_TIP = [(-0.96, -0.18), (0.96, -0.18), (0.0, 0.98)]


def shape_mask(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Float mask in [0, 1] of the canvas (``CANVAS`` px; centre and radius in canvas pixels)."""
    img = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(img)
    c, s = math.cos(angle), math.sin(angle)

    def place(points):
        return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in points]

    if shape in _POLYGONS:
        draw.polygon(place(_POLYGONS[shape]), fill=255)
    else:
        for x, y, rad, add in _DISCS[shape]:
            (px, py), = place([(x, y)])
            draw.ellipse([px - r * rad, py - r * rad, px + r * rad, py + r * rad], fill=255 if add else 0)
        if shape == "heart":
            draw.polygon(place(_HEART_TIP), fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


# -- patterns: a map in [0, 1] (0 = the base colour, 1 = its dark shade) over the canvas ----------------
_YY, _XX = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)


def pattern_map(pattern: str, cx: float, cy: float, r: float, rng: np.random.Generator) -> np.ndarray:
    x, y = _XX - cx, _YY - cy
    if pattern == "plain":
        return np.zeros_like(x)
    if pattern == "striped":
        a = rng.choice([0.0, 0.25, 0.5, 0.75]) * math.pi + rng.uniform(-0.15, 0.15)
        t = (x * math.cos(a) + y * math.sin(a)) / rng.uniform(7.0, 9.0) + rng.uniform()
        return ((t % 1.0) < 0.5).astype(np.float32)
    if pattern == "dotted":
        p = rng.uniform(8.0, 10.0)
        u, v = (x + rng.uniform(0, p)) % p - p / 2, (y + rng.uniform(0, p)) % p - p / 2
        return (u * u + v * v < 2.4 ** 2).astype(np.float32)
    if pattern == "checkered":
        p = rng.uniform(7.0, 9.0)
        return ((np.floor((x + rng.uniform(0, p)) / p) + np.floor((y + rng.uniform(0, p)) / p)) % 2).astype(np.float32)
    if pattern == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        return np.clip((x * math.cos(a) + y * math.sin(a)) / (2 * r) + 0.5, 0, 1) * 0.9
    if pattern == "speckled":
        small = (rng.random((RES, RES)) < 0.35).astype(np.float32)
        return np.kron(small, np.ones((SS, SS), np.float32))
    if pattern == "zigzag":
        p, period = rng.uniform(7.0, 9.0), rng.uniform(10.0, 14.0)
        tri = np.abs(((x / period) % 1.0) - 0.5) * 2 * 5.0
        return ((((y + tri) / p + rng.uniform()) % 1.0) < 0.5).astype(np.float32)
    if pattern == "grid":
        p = rng.uniform(8.0, 10.0)
        u, v = (x + rng.uniform(0, p)) % p, (y + rng.uniform(0, p)) % p
        return ((u < 2.5) | (v < 2.5)).astype(np.float32)
    if pattern == "concentric":
        return (((np.sqrt(x * x + y * y) / rng.uniform(6.0, 8.0)) % 1.0) < 0.5).astype(np.float32)
    if pattern == "marbled":
        f = rng.uniform(0.15, 0.3, size=4)
        ph = rng.uniform(0, 2 * math.pi, size=4)
        w = np.sin(x * f[0] + ph[0] + 2.5 * np.sin(y * f[1] + ph[1])) + np.sin(y * f[2] + ph[2] + 2.5 * np.sin(x * f[3] + ph[3]))
        return (0.5 + 0.25 * w).clip(0, 1).astype(np.float32)
    raise ValueError(f"unknown pattern {pattern!r}")


def _colour(name: str, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.array(COLOURS[name], np.float32) + rng.uniform(-18, 18, 3), 0, 255)


def _shade(colour: np.ndarray, depth: float) -> np.ndarray:
    """The pattern's second colour: a darker shade (a lighter one for colours that are dark already)."""
    return colour * (1 - depth) if colour.mean() > 90 else np.minimum(colour * (1 + 1.7 * depth) + 60 * depth, 255)


def _background(name: str, rng: np.random.Generator) -> np.ndarray:
    if name == "noisy":  # blotches of colour around a random mid tone, dim enough for the object to show
        small = rng.uniform(50, 130, 3) + rng.uniform(-30, 30, (RES // 4, RES // 4, 3))
        return np.kron(small, np.ones((4 * SS, 4 * SS, 1))).astype(np.float32)
    level = {"black": (10, 45), "white": (215, 250), "gray": (105, 150)}[name]
    tint = rng.uniform(-8, 8, 3)
    return np.broadcast_to(rng.uniform(*level) + tint, (CANVAS, CANVAS, 3)).astype(np.float32).copy()


def _placement(scene: Scene, rng: np.random.Generator) -> tuple[float, float, float]:
    r = rng.uniform(*_RADIUS[scene.size])
    lo, hi = r + 0.5, RES - r - 0.5
    mid = RES / 2 + rng.uniform(-2, 2, 2)
    cx, cy = float(np.clip(mid[0], lo, hi)), float(np.clip(mid[1], lo, hi))
    off = (RES / 2 - r) * rng.uniform(0.5, 0.9)  # how far off-centre a named position goes
    if scene.position == "left":
        cx = max(lo, RES / 2 - off)
    elif scene.position == "right":
        cx = min(hi, RES / 2 + off)
    elif scene.position == "top":
        cy = max(lo, RES / 2 - off)
    elif scene.position == "bottom":
        cy = min(hi, RES / 2 + off)
    return cx * SS, cy * SS, r * SS


def _copies(scene: Scene, rng: np.random.Generator) -> tuple[float, float, float, np.ndarray]:
    """``scene.count`` small copies of the shape at random, mostly non-overlapping places (canvas px)."""
    mask = np.zeros((CANVAS, CANVAS), np.float32)
    r = rng.uniform(4.0, 5.5) * SS
    centres: list[tuple[float, float]] = []
    for _ in range(scene.count):
        for _attempt in range(20):
            cx, cy = rng.uniform(r + SS, CANVAS - r - SS, 2)
            if all((cx - x) ** 2 + (cy - y) ** 2 > (1.8 * r) ** 2 for x, y in centres):
                break
        centres.append((float(cx), float(cy)))
        mask = np.maximum(mask, shape_mask(scene.shape, cx, cy, r, rng.uniform(-0.3, 0.3)))
    return CANVAS / 2, CANVAS / 2, CANVAS / 2, mask


def _to_mask_img(mask: np.ndarray) -> Image.Image:
    return Image.fromarray((mask * 255).astype(np.uint8))


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    img = _to_mask_img(mask)
    grown = np.asarray(img.filter(ImageFilter.MaxFilter(2 * width + 1)), np.float32) / 255
    shrunk = np.asarray(img.filter(ImageFilter.MinFilter(2 * width + 1)), np.float32) / 255
    return np.clip(grown - shrunk, 0, 1)


def _downsample(canvas: np.ndarray) -> np.ndarray:
    return canvas.reshape(RES, SS, RES, SS, 3).mean(axis=(1, 3))


def render(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """A ``(32, 32, 3)`` uint8 image of ``scene``; nuisances drawn from ``rng``."""
    colour = _colour(scene.colour, rng)
    if scene.shape is None:  # full-frame texture: the pattern fills the image
        cx, cy, r = CANVAS / 2 + rng.uniform(-8, 8), CANVAS / 2 + rng.uniform(-8, 8), CANVAS / 2
        mask = np.ones((CANVAS, CANVAS), np.float32)
    elif scene.count == 1:
        cx, cy, r = _placement(scene, rng)
        mask = shape_mask(scene.shape, cx, cy, r, rng.uniform(-0.3, 0.3))
    else:
        cx, cy, r, mask = _copies(scene, rng)
    m = pattern_map(scene.pattern, cx, cy, r, rng)[..., None]
    # Full-frame textures get strong contrast; on an object a softer pattern keeps the silhouette legible.
    fill = colour * (1 - m) + _shade(colour, 0.7 if scene.shape is None else 0.45) * m
    style = scene.style
    if style == "sketch":  # paper, and the outline drawn in coloured pencil: no fill, no background
        paper = np.broadcast_to(rng.uniform(225, 250) + rng.normal(0, 4, (CANVAS, CANVAS, 1)), (CANVAS, CANVAS, 3))
        line = _outline(mask, 1) if scene.shape is not None else (m[..., 0] > 0.5).astype(np.float32) * 0.8
        ink = colour * 0.8
        canvas = paper * (1 - line[..., None]) + ink * line[..., None]
    else:
        bg = _background(scene.background, rng) if scene.shape is not None else 0.0
        a = mask[..., None]
        canvas = bg * (1 - a) + fill * a
        if style == "cartoon" and scene.shape is not None:
            edge = _outline(mask, 2)[..., None]
            canvas = canvas * (1 - edge) + 15.0 * edge
    img = _downsample(np.asarray(canvas, np.float32))
    if style == "photo":  # uneven light and sensor noise
        a = rng.uniform(0, 2 * math.pi)
        light = 1 + 0.18 * ((_XX[::SS, ::SS] - RES / 2) * math.cos(a) + (_YY[::SS, ::SS] - RES / 2) * math.sin(a)) / RES
        img = img * light[..., None] + rng.normal(0, 6, img.shape)
    elif style == "painting":  # soft brush strokes and a few flat tones
        img = np.asarray(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0)),
                         np.float32)
        img = img + np.kron(rng.normal(0, 14, (RES // 4, RES // 4, 3)), np.ones((4, 4, 1)))
        img = np.round(img / 48) * 48
    elif style == "pixel":  # an 8-colour-level image at half resolution, blown up
        small = img.reshape(RES // 2, 2, RES // 2, 2, 3).mean(axis=(1, 3))
        img = np.kron(np.round(small / 64) * 64, np.ones((2, 2, 1)))
    if scene.condition != "none":  # drawn last, as a camera or a file would degrade the picture
        img = apply_condition(scene.condition, np.clip(img, 0, 255), Geometry(cx / SS, cy / SS, r / SS,
                              mask.reshape(RES, SS, RES, SS).mean(axis=(1, 3))), rng)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_pil(scene: Scene, rng: np.random.Generator) -> Image.Image:
    return Image.fromarray(render(scene, rng))
