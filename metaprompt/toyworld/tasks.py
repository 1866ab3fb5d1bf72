"""The downstream toy tasks: which factors name the classes, and how an image of a class is drawn.

Each task lists its class names in label order; the CoOp base/new rule (sorted labels, base =
first half rounded up) then makes the first half the base classes. The files on disk (CoOp
layout) are written by ``metaprompt.datasets.toy``; this module only says what the images are.

* ``toy_shapes`` (colour + shape, photos): four colours on four shapes; the base classes are
  pairs seen in pretraining, the new classes the same colours on the four held-out shapes
  (pairs pretraining never showed); every word is known, so zero-shot naming of a new class
  is compositional generalization, and neither word alone names a class.
* ``toy_textures`` (pattern, full-frame textures): base and new are disjoint pattern words.
* ``toy_sketch`` (shape, sketches): a domain shift, sketches being rare in pretraining.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .captions import HELD_OUT, HELD_OUT_COLOURS, HELD_OUT_SHAPES
from .render import BACKGROUNDS, COLOURS, PATTERNS, POSITIONS, SHAPES, SIZES, Scene


@dataclass(frozen=True)
class Task:
    name: str  # the dataset's folder and config name
    registry_name: str  # the dataset registry name (CoOp style, CamelCase)
    classnames: tuple[str, ...]  # label order; base = first ceil(n/2)
    draw_scene: Callable[[int, np.random.Generator], Scene]  # label, rng -> scene
    about: str

    @property
    def num_base(self) -> int:
        return (len(self.classnames) + 1) // 2

    @property
    def base_classes(self) -> tuple[str, ...]:
        return self.classnames[: self.num_base]

    @property
    def new_classes(self) -> tuple[str, ...]:
        return self.classnames[self.num_base:]


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _nuisance_scene(shape: str, colour: str, rng: np.random.Generator, style: str = "photo", pattern: str | None = None) -> Scene:
    background = _pick(rng, BACKGROUNDS)
    if colour == "white" and background == "white":
        background = "black"
    if pattern is None:
        pattern = PATTERNS[0] if rng.random() < 0.4 else _pick(rng, PATTERNS[1:])
    return Scene(shape, colour, pattern, background, _pick(rng, SIZES), _pick(rng, POSITIONS), style)


# toy_shapes: the same four colours on four seen shapes (base) and on the four held-out shapes (new).
BASE_SHAPES = ("circle", "square", "triangle", "cross")
_SHAPE_PAIRS = tuple((c, s) for shapes in (BASE_SHAPES, HELD_OUT_SHAPES) for c in HELD_OUT_COLOURS for s in shapes)
assert not set(_SHAPE_PAIRS[:16]) & HELD_OUT and set(_SHAPE_PAIRS[16:]) == HELD_OUT


def _shapes_scene(label: int, rng: np.random.Generator) -> Scene:
    colour, shape = _SHAPE_PAIRS[label]
    return _nuisance_scene(shape, colour, rng)


def _textures_scene(label: int, rng: np.random.Generator) -> Scene:
    return Scene(None, _pick(rng, list(COLOURS)), PATTERNS[label])


def _sketch_scene(label: int, rng: np.random.Generator) -> Scene:
    return _nuisance_scene(SHAPES[label], _pick(rng, list(COLOURS)), rng, style="sketch", pattern="plain")


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("toy_shapes", "ToyShapes", tuple(f"{c} {s}" for c, s in _SHAPE_PAIRS), _shapes_scene,
         "colour + shape; new classes are colour-shape pairs never shown in pretraining"),
    Task("toy_textures", "ToyTextures", tuple(f"{p} pattern" for p in PATTERNS), _textures_scene,
         "pattern of a full-frame texture; base and new are different pattern words"),
    Task("toy_sketch", "ToySketch", SHAPES, _sketch_scene,
         "shape, drawn as a sketch (a style rare in pretraining: a domain shift)"),
)}


def sample_task_images(task: Task, labels, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` rendered images of each label in ``labels`` (uint8 NHWC) and their labels."""
    from .render import render

    rng = np.random.default_rng(seed)
    images, ys = [], []
    for label in labels:
        for _ in range(per_class):
            images.append(render(task.draw_scene(label, rng), rng))
            ys.append(label)
    return np.stack(images), np.array(ys)
