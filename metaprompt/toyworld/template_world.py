"""The pretraining world of ``toy-vit-l12``: the basic toy world plus the words of CLIP's templates.

ProMetaR's text teacher averages CLIP's 60 ImageNet templates; on ``toy-vit`` 46 of them hold
words the model never saw (their embeddings are zero). Here scenes also carry the image
conditions those words name (``conditions.py``: blurry, dark, cropped, jpeg corrupted, ...) or
several copies of the object ("many"), and captions use the templates' own phrasings ("a blurry
photo of the red star.", "a doodle of a heart.", "the circle in a video game.").
:func:`coverage` says which template words are taught, and how.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..clip.templates import IMAGENET_TEMPLATES
from .captions import _sentence, describe, object_phrase, sample_scene, vocabulary
from .conditions import CONDITIONS
from .render import COLOURS, Scene

CONDITION_FRACTION = 0.45  # photos drawn under one of the conditions
MANY_FRACTION = 0.07  # photos of several copies of the object
MENTION = 0.85  # how often a caption names the condition it was drawn under

# How a template says each condition ("{}" is the object): CLIP's wording, with "a" or "the".
_CONDITION_PHRASES = {c: [f"a {c} photo of {{}}"] for c in CONDITIONS}
_CONDITION_PHRASES.update({
    "hard to see": ["a photo of the hard to see {}", "a photo of a hard to see {}"],
    "dirty": ["a photo of a dirty {}", "a photo of the dirty {}"],
    "rendering": ["a rendering of {}", "a rendition of {}"],
    "bad": ["a bad photo of {}"],
})
_CLEAN_PHRASES = ["a good photo of {}", "a photo of a clean {}", "a photo of the clean {}", "a photo of a nice {}",
                  "itap of {}", "a photo of my {}", "a photo of one {}", "a photo of {}"]
_STYLE_PHRASES = {
    "cartoon": ["a cartoon {}", "a drawing of {}", "a cartoon of {}"],
    "painting": ["a painting of {}", "art of {}"],
    "pixel": ["{} in a video game", "pixel art of {}", "a pixelated {}"],
    "sketch": ["a sketch of {}", "a doodle of {}"],
}
_VISUAL = {  # template words grounded in what an image shows, and what shows them
    **{w: f"condition '{c}'" for c in CONDITIONS for w in c.split()},
    "rendition": "condition 'rendering'", "many": "several copies of the object", "one": "a single object",
    "large": "object size", "big": "object size", "small": "object size", "clean": "no condition (plain photo)",
    "good": "no condition (plain photo)", "nice": "no condition (plain photo)", "cartoon": "style", "drawing": "style",
    "painting": "style", "art": "style", "sketch": "style", "doodle": "style", "pixelated": "condition 'pixelated', style 'pixel'",
    "video": "style 'pixel'", "game": "style 'pixel'",
}
_PHRASING = {"a", "an", "the", "of", "photo", "my", "itap", "in"}  # taught, with no picture of their own


def _article(rng: np.random.Generator) -> str:
    return "the" if rng.random() < 0.35 else "a"


def sample_scene_templates(rng: np.random.Generator, colours: tuple[str, ...] = tuple(COLOURS)) -> Scene:
    """A basic pretraining scene, then (photos only) a condition or several copies."""
    scene = sample_scene(rng, colours)
    if scene.style != "photo":
        return scene
    u = rng.random()
    if u < CONDITION_FRACTION:
        names = [c for c in CONDITIONS if scene.shape is not None or c not in ("close-up", "cropped", "rendering")]
        return dataclasses.replace(scene, condition=str(rng.choice(names)))
    if u < CONDITION_FRACTION + MANY_FRACTION and scene.shape is not None:
        return dataclasses.replace(scene, count=int(rng.integers(3, 6)), size="small", position="center")
    return scene


def _subject(scene: Scene, rng: np.random.Generator) -> str:
    if scene.shape is None:
        colour = f"{scene.colour} " if rng.random() < 0.6 else ""
        return f"{colour}{scene.pattern} {'texture' if rng.random() < 0.5 else 'pattern'}"
    phrase = object_phrase(scene, rng)
    return phrase.replace("large ", "big ", 1) if rng.random() < 0.3 else phrase


def _fill(template: str, scene: Scene, rng: np.random.Generator) -> str:
    """The template with the scene's words in its slot ("of {}" and a leading "{}" take an article)."""
    subject = _subject(scene, rng)
    if template.endswith("of {}") or template.startswith("{}"):
        subject = f"{_article(rng)} {subject}"
    return _sentence(template.format(subject), rng)


def describe_templates(scene: Scene, rng: np.random.Generator) -> str:
    """A caption in the templates' phrasing where one fits, else the basic world's caption."""
    if scene.count > 1:
        return _fill("a photo of many {}", scene, rng)
    if scene.condition != "none":
        phrases = _CONDITION_PHRASES[scene.condition] if rng.random() < MENTION else ["a photo of {}"]
        return _fill(phrases[int(rng.integers(len(phrases)))], scene, rng)
    phrases = _STYLE_PHRASES.get(scene.style) if scene.shape is not None else None
    if phrases is None and scene.style == "photo" and rng.random() < 0.3:
        phrases = _CLEAN_PHRASES
    if phrases is None or rng.random() < 0.4:
        return describe(scene, rng)
    return _fill(phrases[int(rng.integers(len(phrases)))], scene, rng)


def vocabulary_templates() -> list[str]:
    words = set(vocabulary()) | _PHRASING | {"big", "many", "texture", "pattern"}
    for phrases in [*_CONDITION_PHRASES.values(), _CLEAN_PHRASES, *_STYLE_PHRASES.values()]:
        for phrase in phrases:
            words.update(phrase.replace("{}", " ").split())
    return sorted(words)


def _words(template: str) -> set[str]:
    """A template's words, without the class slot ("close-up" stays one word)."""
    return set(re.findall(r"[a-z][a-z-]*", template.replace("{}", " ").lower()))


def template_words() -> dict[str, int]:
    """Each word of the 60 templates and how many templates use it."""
    counts: dict[str, int] = {}
    for template in IMAGENET_TEMPLATES:
        for word in _words(template):
            counts[word] = counts.get(word, 0) + 1
    return counts


def coverage() -> list[tuple[str, int, bool, bool, str]]:
    """(word, templates using it, known to toy-vit, known to toy-vit-l12, how it is taught) per template word."""
    basic, rich = set(vocabulary()), set(vocabulary_templates())
    rows = []
    for word, n in sorted(template_words().items(), key=lambda item: (-item[1], item[0])):
        how = _VISUAL.get(word) if word in rich else None
        if how is None:
            how = "phrasing only" if word in rich else "not taught: nothing a flat rendered scene can show"
        rows.append((word, n, word in basic, word in rich, how))
    return rows


def templates_fully_known(words: set[str]) -> int:
    """How many of the 60 templates use only words in ``words``."""
    return sum(_words(t) <= words for t in IMAGENET_TEMPLATES)


def coverage_table() -> str:
    basic, rich = set(vocabulary()), set(vocabulary_templates())
    lines = ["| word | templates | toy-vit | toy-vit-l12 | taught by |", "|---|---|---|---|---|"]
    for word, n, old, new, how in coverage():
        lines.append(f"| {word} | {n} | {'yes' if old else 'no'} | {'yes' if new else 'no'} | {how} |")
    lines.append(f"\nTemplates whose every word is known: toy-vit {templates_fully_known(basic)} of "
                 f"{len(IMAGENET_TEMPLATES)}, toy-vit-l12 {templates_fully_known(rich)} of {len(IMAGENET_TEMPLATES)}.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(coverage_table())
