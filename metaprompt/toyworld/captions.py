"""Captions of toy-world scenes, and the scene distribution the tiny CLIP is pretrained on.

A caption names some of a scene's factors (never all: a word has to carry meaning on its own
for prompts like ``"a photo of a red star."`` to work) in one of several phrasings. The
pretraining distribution leaves out the ``HELD_OUT`` colour-shape pairs entirely (no image, no
caption), so downstream classes built from them are new to the model as pictures while every
word in their names was seen.
"""
from __future__ import annotations

import numpy as np

from .render import BACKGROUNDS, COLOURS, PATTERNS, POSITIONS, SHAPES, SIZES, STYLES, Scene

# Colour-shape pairs never shown in pretraining: a 4 x 4 grid, so that neither word alone names
# one of them (each colour and each shape is still seen with the other six colours / eight shapes).
HELD_OUT_COLOURS = ("red", "green", "blue", "yellow")
HELD_OUT_SHAPES = ("star", "heart", "arrow", "hexagon")
HELD_OUT = frozenset((c, s) for c in HELD_OUT_COLOURS for s in HELD_OUT_SHAPES)

# How often each style appears in pretraining: sketches are rare, so a sketch dataset is a domain shift.
STYLE_WEIGHTS = {"photo": 0.7, "cartoon": 0.1, "painting": 0.07, "pixel": 0.07, "sketch": 0.06}
TEXTURE_FRACTION = 0.12  # full-frame textures (no object) among pretraining images

_WHERE = {"center": "in the center", "left": "on the left", "right": "on the right", "top": "at the top",
          "bottom": "at the bottom"}
_STYLE_PREFIX = {
    "photo": ["a photo of a", "a photo of a", "a picture of a", "an image of a", "a", "there is a", ""],
    "cartoon": ["a cartoon of a", "a cartoon", "a drawing of a"],
    "painting": ["a painting of a", "a painted", "an oil painting of a"],
    "pixel": ["pixel art of a", "a pixelated", "a pixel art"],
    "sketch": ["a sketch of a", "a pencil sketch of a", "a sketched"],
}


def _choice(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def sample_scene(rng: np.random.Generator, colours: tuple[str, ...] = tuple(COLOURS)) -> Scene:
    """A scene from the pretraining distribution (held-out colour-shape pairs never occur).

    ``colours`` narrows the colour choice: a batch drawn from a few colours cannot be told apart by
    colour alone, which pushes contrastive training to learn shapes and patterns too.
    """
    style = str(rng.choice(list(STYLE_WEIGHTS), p=list(STYLE_WEIGHTS.values())))
    colour = _choice(rng, colours)
    pattern = PATTERNS[0] if rng.random() < 0.5 else _choice(rng, PATTERNS[1:])
    if rng.random() < TEXTURE_FRACTION:
        return Scene(None, colour, _choice(rng, PATTERNS), style="sketch" if style == "sketch" else "photo")
    while True:
        shape = _choice(rng, SHAPES)
        if (colour, shape) not in HELD_OUT:
            break
        colour = _choice(rng, colours)
    background = _choice(rng, BACKGROUNDS)
    if colour == "white" and background == "white":
        background = "black"
    position = "center" if rng.random() < 0.4 else _choice(rng, POSITIONS[1:])
    return Scene(shape, colour, pattern, background, _choice(rng, SIZES), position, style)


def describe(scene: Scene, rng: np.random.Generator) -> str:
    """One caption of ``scene``: a random subset of its factors in a random phrasing."""
    if scene.shape is None:
        return _describe_texture(scene, rng)
    sketch = scene.style == "sketch"
    phrase = object_phrase(scene, rng)
    where = []
    if not sketch and rng.random() < 0.4:
        where.append(f"on a {scene.background} background")
    if rng.random() < 0.3:
        where.append(_WHERE[scene.position])
    if len(where) == 2 and rng.random() < 0.5:
        where.reverse()
    mention_style = rng.random() < (0.5 if scene.style == "photo" else 0.85)
    prefix = _choice(rng, _STYLE_PREFIX[scene.style]) if mention_style else _choice(rng, ["a", "an image of a", ""])
    return _sentence(" ".join(w for w in [prefix, phrase, *where] if w), rng)


def object_phrase(scene: Scene, rng: np.random.Generator) -> str:
    """The object's words: some of size, colour and pattern, then the shape (e.g. "small red striped star")."""
    adjectives = []
    if scene.size != "medium" and rng.random() < 0.35:
        adjectives.append(scene.size)
    if rng.random() < 0.75:
        adjectives.append(scene.colour)
    pattern_phrase = ""
    if scene.style != "sketch" and rng.random() < (0.25 if scene.pattern == "plain" else 0.55):
        if rng.random() < 0.7:
            adjectives.append(scene.pattern)
        else:
            pattern_phrase = f" with a {scene.pattern} pattern"
    noun = scene.shape if rng.random() < 0.92 else _choice(rng, ["shape", "object"])
    return " ".join(adjectives + [noun]) + pattern_phrase


def _describe_texture(scene: Scene, rng: np.random.Generator) -> str:
    colour = f"{scene.colour} " if rng.random() < 0.7 else ""
    form = _choice(rng, [f"a {colour}{scene.pattern} texture", f"a close-up of a {colour}{scene.pattern} pattern",
                         f"a photo of a {colour}{scene.pattern} texture", f"{scene.pattern} {colour}pattern",
                         f"a {scene.pattern} surface"])
    if scene.style == "sketch":
        form = f"a sketch of a {scene.pattern} pattern"
    return _sentence(form, rng)


def _sentence(text: str, rng: np.random.Generator) -> str:
    text = " ".join(text.split())
    return text + "." if rng.random() < 0.5 else text



def vocabulary() -> list[str]:
    """Every word a caption can use (pretraining learns embeddings for these tokens only)."""
    words = {"a", "an", "image", "of", "on", "background", "with", "pattern", "shape", "object", "texture",
             "close-up", "photo", "surface", "sketch"}
    for phrase in [*_WHERE.values(), *(p for ps in _STYLE_PREFIX.values() for p in ps)]:
        words.update(phrase.split())
    for factor in (SHAPES, COLOURS, PATTERNS, BACKGROUNDS, SIZES, STYLES):
        words.update(factor)
    return sorted(words)


__all__ = ["HELD_OUT", "HELD_OUT_COLOURS", "HELD_OUT_SHAPES", "STYLE_WEIGHTS", "describe", "object_phrase", "sample_scene",
           "vocabulary"]
