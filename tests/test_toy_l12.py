"""toy-vit-l12: the template world's image conditions and captions, the coverage of CLIP's template
words, the shipped 12-layer checkpoint and its pretraining script."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import clip
import numpy as np
import pytest
import torch

import metaprompt  # noqa: F401  (registers the backbones)
from metaprompt.clip import MissingWeightsError, load_clip
from metaprompt.clip.templates import IMAGENET_TEMPLATES
from metaprompt.toyworld import model as toy_model
from metaprompt.toyworld.captions import vocabulary
from metaprompt.toyworld.conditions import CONDITIONS
from metaprompt.toyworld.pretrain import PRESETS, recorded_settings
from metaprompt.toyworld.render import Scene, render
from metaprompt.toyworld.tasks import TASKS
from metaprompt.toyworld.template_world import (coverage, describe_templates, sample_scene_templates,
                                                templates_fully_known, vocabulary_templates)
from metaprompt.toyworld.zeroshot import zero_shot_accuracy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAR = Scene("star", "red", "striped", "gray", "medium", "center")


def _draw(condition: str = "none", seed: int = 5, scene: Scene = STAR, **changes) -> np.ndarray:
    return render(dataclasses.replace(scene, condition=condition, **changes), np.random.default_rng(seed)).astype(float)


def _high_frequency(img: np.ndarray) -> float:
    return float(np.abs(np.diff(img, axis=0)).mean() + np.abs(np.diff(img, axis=1)).mean())


def _object_pixels(img: np.ndarray) -> int:  # the red star on a gray background
    return int(((img[..., 0] - img[..., 2]) > 60).sum())


# -- image conditions ------------------------------------------------------------------------------------
def test_every_condition_changes_the_image_and_is_deterministic():
    plain = _draw()
    for name in CONDITIONS:
        img = _draw(name)
        assert np.array_equal(img, _draw(name)), name
        assert np.abs(img - plain).mean() > 3, name


def test_conditions_look_like_their_words():
    plain = _draw()
    assert _draw("dark").mean() < 0.4 * plain.mean() and _draw("bright").mean() > plain.mean() + 60
    bw = _draw("black and white")
    assert np.abs(bw[..., 0] - bw[..., 1]).max() <= 1 and np.abs(bw[..., 0] - bw[..., 2]).max() <= 1
    for soft in ("blurry", "low resolution"):
        assert _high_frequency(_draw(soft)) < 0.6 * _high_frequency(plain), soft
    pixels = _draw("pixelated")  # 6 or 8 px blown up: constant within blocks of 4 px (or 5-6)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) <= 64
    assert _draw("hard to see").std() < 0.35 * plain.std()
    assert _object_pixels(_draw("close-up")) > 1.5 * _object_pixels(plain)


def test_a_cropped_photo_cuts_the_object():
    """The crop shows part of the star, magnified: fewer of its pixels than a close-up, and it touches the border."""
    touching = 0
    for seed in range(10):
        img = _draw("cropped", seed)
        red = (img[..., 0] - img[..., 2]) > 60
        touching += bool(red[0].any() or red[-1].any() or red[:, 0].any() or red[:, -1].any())
    assert touching >= 7


def test_many_copies_draw_several_small_objects():
    from scipy import ndimage

    img = _draw(scene=Scene("circle", "white", background="black", size="small"), count=4)
    _, blobs = ndimage.label(img.mean(-1) > 128)
    assert blobs >= 3


def test_bad_conditions_and_counts_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown condition 'foggy'; choose one of.*'blurry'"):
        Scene("star", "red", condition="foggy")
    with pytest.raises(ValueError, match="count must be 1 to 6"):
        Scene("star", "red", count=9)
    with pytest.raises(ValueError, match="count must be 1 to 6"):
        Scene(None, "red", count=3)


# -- captions and the coverage of the templates' words --------------------------------------------------------
def _captions(n: int = 3000) -> list[tuple[Scene, str]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        scene = sample_scene_templates(rng)
        out.append((scene, describe_templates(scene, rng)))
    return out


def test_template_captions_name_their_conditions_and_use_only_the_learned_vocabulary():
    pairs = _captions()
    known = set(toy_model.vocabulary_token_ids(vocabulary_templates()).tolist())
    for _, caption in pairs:  # what CompactText would refuse during pretraining
        tokens = clip.tokenize(caption)[0]
        assert set(tokens[tokens > 0].tolist()) <= known, caption
    conditioned = [(s, c) for s, c in pairs if s.condition != "none"]
    photos = [s for s, _ in pairs if s.style == "photo"]
    assert 0.4 < len(conditioned) / len(photos) < 0.5  # CONDITION_FRACTION (0.45) of the photos
    named = sum(s.condition.split()[0] in c or (s.condition == "rendering" and "rendition" in c) for s, c in conditioned)
    assert 0.75 < named / len(conditioned) < 0.95  # MENTION: usually, not always
    many = [c for s, c in pairs if s.count > 1]
    assert many and all("many" in c for c in many)
    assert all(s.condition == "none" for s, _ in pairs if s.style != "photo")


def test_coverage_table_accounts_for_every_template_word():
    rows = {word: (n, old, new, how) for word, n, old, new, how in coverage()}
    basic, rich = set(vocabulary()), set(vocabulary_templates())
    for template in IMAGENET_TEMPLATES:
        for word in template.replace("{}", " ").replace(".", " ").split():
            assert word in rows, word
    assert rows["a"][0] == sum(" a " in f" {t} " for t in IMAGENET_TEMPLATES)
    for word, (_, old, new, how) in rows.items():
        assert old == (word in basic) and new == (word in rich)
        assert how.startswith("not taught") == (not new), word
    for taught in ("blurry", "dark", "bright", "cropped", "pixelated", "jpeg", "many", "doodle", "sketch", "painting"):
        assert rows[taught][2], taught
    for untaught in ("origami", "tattoo", "embroidered", "plastic", "sculpture"):
        assert not rows[untaught][2], untaught
    # The count on toy-vit: 46 of the 60 templates hold a word it never learned.
    assert templates_fully_known(basic) == 14
    assert templates_fully_known(rich) > 40


# -- the shipped backbone ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def l12():
    return load_clip("toy-vit-l12")


def test_toy_vit_l12_has_vit_b16_depth_and_joint_width(l12):
    assert len(l12.visual.transformer.resblocks) == 12 and len(l12.transformer.resblocks) == 12
    assert l12.text_projection.shape[1] == 512 and l12.visual.proj.shape[1] == 512
    assert l12.visual.input_resolution == 32
    assert abs(float(l12.logit_scale.exp()) - 100) < 0.5  # held at CLIP's final value (fp16 in the file)
    obj = toy_model.read_toy_checkpoint(toy_model.shipped_path("toy-vit-l12"))
    assert obj["spec"] == toy_model.TOY_VIT_L12
    assert obj["meta"]["pretrain"] == recorded_settings(PRESETS["toy-vit-l12"])  # the script's recipe, recorded
    # toy-vit's file predates the later fields: its recorded recipe must still read as the script's
    assert toy_model.read_toy_checkpoint(toy_model.SHIPPED)["meta"]["pretrain"] == recorded_settings(PRESETS["toy-vit"])
    assert obj["meta"]["seconds"] > 0 and os.path.getsize(toy_model.shipped_path("toy-vit-l12")) < 5e6
    rows = obj["token_rows"]
    assert rows.shape[0] == len(toy_model.vocabulary_token_ids(vocabulary_templates()))  # only the learned words


def test_toy_vit_l12_names_new_toy_classes_zero_shot(l12):
    for name in ("toy_shapes", "toy_textures"):
        task = TASKS[name]
        chance = 100 / len(task.new_classes)
        assert zero_shot_accuracy(l12, task, "new", per_class=10) > 2 * chance, name


def test_the_release_depth_9_prompts_fit_toy_vit_l12(l12):
    from metaprompt.config import build_cfg
    from metaprompt.learners import IVLPLearner, PromptedCLIP

    cfg = build_cfg("", os.path.join(REPO, "configs/trainers/ProMetaR/toy_l12.yaml"))
    node = cfg.TRAINER.PROMETAR
    assert cfg.MODEL.BACKBONE.NAME == "toy-vit-l12" and node.PROMPT_DEPTH_TEXT == node.PROMPT_DEPTH_VISION == 9
    learner = IVLPLearner(l12.token_embedding, l12.visual.conv1.out_channels, n_ctx_text=4, n_ctx_vision=4,
                          ctx_init="a photo of a", depth_text=9, depth_vision=9)
    assert len(learner.prompts) == 18  # 9 text + 9 vision prompt tensors, as on ViT-B/16
    model = PromptedCLIP(l12, learner, ["red star", "blue circle"])
    logits = model(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()


def test_missing_l12_checkpoint_says_how_to_regenerate(monkeypatch, tmp_path):
    monkeypatch.setattr(toy_model, "_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="pretrain --backbone toy-vit-l12 --out"):
        toy_model.toy_checkpoint_path("toy-vit-l12")
    monkeypatch.setenv("METAPROMPT_TOY_CLIP_L12", str(tmp_path / "nope.pt"))
    with pytest.raises(MissingWeightsError, match="METAPROMPT_TOY_CLIP_L12=.*does not exist"):
        toy_model.toy_checkpoint_path("toy-vit-l12")


def test_pretraining_script_builds_toy_vit_l12_and_caches_it(tmp_path):
    """A few steps of the real recipe (the full one takes about half an hour: its time is in the file)."""
    out = str(tmp_path / "l12.pt")
    cmd = [sys.executable, "-m", "metaprompt.toyworld.pretrain", "--backbone", "toy-vit-l12", "--out", out,
           "--steps", "3", "--warmup-steps", "1", "--batch-size", "16"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "logit scale 100.0" in first.stdout
    obj = toy_model.read_toy_checkpoint(out)
    assert obj["spec"] == toy_model.TOY_VIT_L12 and obj["meta"]["pretrain"]["world"] == "templates"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert again.returncode == 0 and "cached" in again.stdout
    bad = subprocess.run(cmd + ["--world", "moon", "--force"], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert bad.returncode == 2 and "--world must be one of ('basic', 'templates'), got 'moon'" in bad.stderr
    assert torch.load(out, weights_only=True)["meta"]["pretrain"]["steps"] == 3  # the bad call wrote nothing
