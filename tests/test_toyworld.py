"""The toy world: rendering, captions, the shipped toy CLIP, the toy datasets and their zero-shot accuracy."""
from __future__ import annotations

import json
import os
import random

import clip
import numpy as np
import pytest
import torch
from PIL import Image

import metaprompt  # noqa: F401  (registers datasets and backbones)
from metaprompt.clip import load_clip
from metaprompt.config import build_cfg
from metaprompt.datasets.base import DatasetNotFoundError
from metaprompt.datasets.toy import ToyShapes, ToyTextures, ToySketch, ensure_generated
from metaprompt.toyworld import model as toy_model
from metaprompt.toyworld.captions import HELD_OUT, describe, sample_scene, vocabulary
from metaprompt.toyworld.render import RES, SHAPES, Scene, render, shape_mask
from metaprompt.toyworld.tasks import TASKS
from metaprompt.toyworld.zeroshot import classify, to_input

DATASETS = {"toy_shapes": ToyShapes, "toy_textures": ToyTextures, "toy_sketch": ToySketch}


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("toy_data"))
    for cls in DATASETS.values():
        ensure_generated(cls.task, os.path.join(root, cls.dataset_dir), cls.split_name)
    return root


@pytest.fixture(scope="module")
def toy_clip():
    return load_clip("toy-vit")  # (no torch.set_num_threads here: later tests compare runs bit for bit)


# -- rendering and captions ------------------------------------------------------------------------
def test_render_is_a_function_of_scene_and_generator_state():
    scene = Scene("star", "red", "striped", "gray", "large", "left", "photo")
    a = render(scene, np.random.default_rng(3))
    b = render(scene, np.random.default_rng(3))
    assert a.shape == (RES, RES, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, render(scene, np.random.default_rng(4)))  # nuisances do vary


def test_factors_show_in_the_pixels():
    rng = np.random.default_rng(0)
    red = render(Scene("square", "red", background="black", size="large"), rng).astype(float)
    blue = render(Scene("square", "blue", background="black", size="large"), rng).astype(float)
    assert red[..., 0].mean() > red[..., 2].mean() + 20 and blue[..., 2].mean() > blue[..., 0].mean() + 20
    small = render(Scene("circle", "white", background="black", size="small", style="cartoon"), rng)
    large = render(Scene("circle", "white", background="black", size="large", style="cartoon"), rng)
    assert (large.mean(-1) > 128).sum() > 2 * (small.mean(-1) > 128).sum()
    left = render(Scene("circle", "white", background="black", position="left", style="cartoon"), rng)
    cols = np.nonzero((left.mean(-1) > 128).any(0))[0]
    assert cols.mean() < RES / 2 - 3
    # Every shape draws a different silhouette (same centre, size, angle).
    masks = [shape_mask(s, 32, 32, 24, 0.0) > 0.5 for s in SHAPES]
    for i in range(len(SHAPES)):
        for j in range(i + 1, len(SHAPES)):
            assert (masks[i] ^ masks[j]).mean() > 0.03, (SHAPES[i], SHAPES[j])


def test_pretraining_never_shows_held_out_pairs_and_captions_use_the_vocabulary():
    rng = np.random.default_rng(1)
    known = set(toy_model.vocabulary_token_ids(vocabulary()).tolist())
    seen_pairs = set()
    for _ in range(3000):
        scene = sample_scene(rng)
        if scene.shape is not None:
            seen_pairs.add((scene.colour, scene.shape))
        tokens = clip.tokenize(describe(scene, rng))[0]
        assert set(tokens[tokens > 0].tolist()) <= known
    assert not seen_pairs & HELD_OUT
    assert len(seen_pairs) > 100  # everything else does occur (120 pairs minus 16 held out)


# -- the shipped toy CLIP ---------------------------------------------------------------------------
def test_toy_vit_backbone_loads_the_shipped_checkpoint(toy_clip):
    assert os.path.isfile(toy_model.SHIPPED)
    assert os.path.getsize(toy_model.SHIPPED) < 5e6
    assert toy_clip.visual.input_resolution == 32 and toy_clip.context_length == 77
    assert not any(p.requires_grad for p in toy_clip.parameters())


def test_every_class_name_word_was_seen_in_pretraining():
    """New classes are new pictures, never new words: each prompt token has a trained embedding row."""
    known = set(toy_model.read_toy_checkpoint(toy_model.SHIPPED)["token_ids"].tolist())
    for task in TASKS.values():
        for name in task.classnames:
            tokens = clip.tokenize(f"a photo of a {name}.")[0]
            assert set(tokens[tokens > 0].tolist()) <= known, name


def test_checkpoint_round_trip_keeps_weights(tmp_path):
    model = toy_model.build_toy_clip(seed=1)
    ids = toy_model.vocabulary_token_ids(vocabulary())
    path = str(tmp_path / "toy.pt")
    toy_model.save_toy_clip(model, ids, path, toy_model.TOY_VIT, {"note": "test"})
    loaded = toy_model.load_toy_clip(path)
    ref = model.state_dict()
    for key, value in loaded.state_dict().items():
        expected = ref[key].half().float()
        if key == toy_model.EMBEDDING:  # only the vocabulary's rows are kept; the rest are zero
            others = torch.ones(len(value), dtype=torch.bool)
            others[ids] = False
            assert torch.equal(value[ids], expected[ids]) and not value[others].any()
        else:
            assert torch.equal(value, expected), key


def test_toy_vit_says_how_to_regenerate_a_missing_checkpoint(monkeypatch, tmp_path):
    monkeypatch.setattr(toy_model, "_DATA", str(tmp_path / "no_data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("METAPROMPT_TOY_CLIP", raising=False)
    with pytest.raises(FileNotFoundError, match="metaprompt.toyworld.pretrain --backbone toy-vit --out"):
        load_clip("toy-vit")


# -- datasets ---------------------------------------------------------------------------------------
def _cfg(root: str, dataset: str, subsample: str = "all", seed: int = 1):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return build_cfg(os.path.join(repo, "configs", "datasets", f"{dataset}.yaml"), "",
                     ["DATASET.NUM_SHOTS", "16", "DATASET.SUBSAMPLE_CLASSES", subsample],
                     {"DATASET.ROOT": root, "SEED": seed})


def test_toy_datasets_in_coop_layout_with_the_documented_base_and_new_classes(toy_root):
    for name, cls in DATASETS.items():
        task = cls.task
        split = json.load(open(os.path.join(toy_root, name, cls.split_name)))
        assert {k: len(v) for k, v in split.items()} == {k: n * len(task.classnames) for k, n in
                                                           (("train", 20), ("val", 8), ("test", 40))}
        path, label, classname = split["test"][0]
        assert classname == task.classnames[label] and os.path.isfile(os.path.join(toy_root, name, "images", path))
        random.seed(1)
        base = cls(_cfg(toy_root, name, "base"))
        random.seed(1)
        new = cls(_cfg(toy_root, name, "new"))
        assert base.classnames == list(task.base_classes) and new.classnames == list(task.new_classes)
        assert len(base.train_x) == 16 * len(task.base_classes)
    # toy_shapes: base pairs were seen in pretraining, every new pair was held out of it.
    shapes = TASKS["toy_shapes"]
    pairs = [tuple(n.split()) for n in shapes.classnames]
    assert not set(pairs[:shapes.num_base]) & HELD_OUT and set(pairs[shapes.num_base:]) == HELD_OUT


def test_generation_does_not_depend_on_the_run_seed(toy_root, tmp_path):
    cls = ToyTextures
    random.seed(999)
    np.random.seed(999)
    ensure_generated(cls.task, str(tmp_path / "again"), cls.split_name)
    first = Image.open(os.path.join(toy_root, "toy_textures", "images", "striped_pattern", "005.png"))
    second = Image.open(tmp_path / "again" / "images" / "striped_pattern" / "005.png")
    assert np.array_equal(np.asarray(first), np.asarray(second))


def test_a_folder_from_another_world_version_is_refused_not_overwritten(tmp_path):
    folder = tmp_path / "toy_sketch"
    folder.mkdir()
    (folder / "world.json").write_text(json.dumps({"world_version": 0}))
    with pytest.raises(DatasetNotFoundError, match="Delete that folder"):
        ToySketch(_cfg(str(tmp_path), "toy_sketch"))
    assert (folder / "world.json").read_text() == json.dumps({"world_version": 0})


# -- zero-shot: new classes are nameable --------------------------------------------------------
# Measured on the shipped checkpoint (docs/toyworld.md): the bounds leave room for a regenerated
# checkpoint on another CPU while staying far from chance.
ZERO_SHOT_NEW_AT_LEAST = {"toy_shapes": 3.0, "toy_textures": 3.0, "toy_sketch": 2.0}  # x chance


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_zero_shot_on_the_generated_new_classes_is_far_above_chance(toy_root, toy_clip, dataset):
    cls = DATASETS[dataset]
    task = cls.task
    split = json.load(open(os.path.join(toy_root, dataset, cls.split_name)))
    items = [(p, y - task.num_base) for p, y, _ in split["test"] if y >= task.num_base]
    images = np.stack([np.asarray(Image.open(os.path.join(toy_root, dataset, "images", p)).convert("RGB"))
                       for p, _ in items])
    labels = np.array([y for _, y in items])
    pred = classify(toy_clip, to_input(images), list(task.new_classes)).numpy()
    accuracy = (pred == labels).mean()
    chance = 1 / len(task.new_classes)
    assert accuracy > ZERO_SHOT_NEW_AT_LEAST[dataset] * chance, f"{dataset}: {accuracy:.3f} vs chance {chance:.3f}"
