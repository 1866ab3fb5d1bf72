"""The learner registry: every learner's node, recipes, trainer, meta-base choice and table order
come from its one entry; bad names are one clear error; upstream YAMLs load unchanged."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

import metaprompt  # noqa: F401  (registers the trainers and their nodes)
from metaprompt.config import build_cfg
from metaprompt.errors import ConfigError
from metaprompt.learners import entries, get_learner, get_meta_base, learner_names
from metaprompt.learners.recipes import recipe_lines
from metaprompt.runtime import TRAINER_REGISTRY

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_each_node_is_generated_from_its_config_dataclass():
    cfg = build_cfg("", "")
    for e in entries():
        defaults = {f.name: f.default for f in dataclasses.fields(e.config)}
        assert dict(cfg.TRAINER[e.node]) == defaults, e.name
        trainer = TRAINER_REGISTRY.get(e.name)
        assert (trainer.CFG_NODE, trainer.LEARNER) == (e.node, e.learner)
    # ProMetaR's node holds IVLP's keys (the release's layout), generated from the same dataclass
    ivlp = get_learner("IVLP")
    assert {k: cfg.TRAINER.PROMETAR[k] for k in cfg.TRAINER.IVLP} == dict(cfg.TRAINER.IVLP)
    assert ivlp.learner.Config is ivlp.config


def test_the_scripts_recipes_agree_with_the_registry_and_exist():
    lines = recipe_lines()  # parsed from the learner modules, as scripts/_common.sh reads them
    assert set(lines) == set(learner_names())
    for e in entries():
        assert lines[e.name].split() == [e.name, e.recipe, *(f"{d}={r}" for d, r in e.dataset_recipes.items())]
        for recipe in (e.recipe, *e.dataset_recipes.values(), "toy", "smoke"):
            assert os.path.isfile(os.path.join(REPO, "configs", "trainers", e.name, f"{recipe}.yaml")), (e.name, recipe)
    script = f'source "{REPO}/scripts/_common.sh"; for t in {" ".join(learner_names())}; do default_cfg $t imagenet; done'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == [e.default_recipe("imagenet") for e in entries()]


def test_unknown_learner_is_one_error_listing_the_known_ones():
    with pytest.raises(ConfigError) as err:
        get_learner("CoOP")
    assert "Unknown learner 'CoOP'" in str(err.value) and all(n in str(err.value) for n in learner_names())
    with pytest.raises(ConfigError, match=r"TRAINER.GRAM.BASE='Nope' is not a registered learner; choose one of "
                                          + ", ".join(learner_names(meta_base=True))):
        get_meta_base("Nope", "TRAINER.GRAM.BASE")
    with pytest.raises(ConfigError, match=r"TRAINER.PROMETAR.BASE='ZeroshotCLIP' cannot be wrapped: zero-shot CLIP "
                                          r"has no prompt tensor"):
        get_meta_base("ZeroshotCLIP", "TRAINER.PROMETAR.BASE")
    with pytest.raises(ConfigError, match=r"TRAINER.PROMETAR.BASE='CoCoOp' cannot be wrapped: its class texts "
                                          r"depend on each image"):
        get_meta_base("CoCoOp", "TRAINER.PROMETAR.BASE")


def test_meta_bases_results_order_and_trainers_read_the_registry():
    from metaprompt.meta.gram.config import BASE_NODES
    from metaprompt.results.render import METHOD_ORDER
    from metaprompt.trainers.prometar import BASES

    bases = learner_names(meta_base=True)
    assert set(BASES) == set(BASE_NODES) == set(bases) and "ZeroshotCLIP" not in bases and "CoCoOp" not in bases
    assert METHOD_ORDER == (*learner_names(), "ProMetaR", "GRAM")
    assert set(learner_names()) <= set(TRAINER_REGISTRY._obj_map)


# The CoOp release's configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml, verbatim.
COCOOP_UPSTREAM = """DATALOADER:
  TRAIN_X:
    BATCH_SIZE: 1
  TEST:
    BATCH_SIZE: 100
  NUM_WORKERS: 8

INPUT:
  SIZE: (224, 224)
  INTERPOLATION: "bicubic"
  PIXEL_MEAN: [0.48145466, 0.4578275, 0.40821073]
  PIXEL_STD: [0.26862954, 0.26130258, 0.27577711]
  TRANSFORMS: ["random_resized_crop", "random_flip", "normalize"]

OPTIM:
  NAME: "sgd"
  LR: 0.002
  MAX_EPOCH: 10
  LR_SCHEDULER: "cosine"
  WARMUP_EPOCH: 1
  WARMUP_TYPE: "constant"
  WARMUP_CONS_LR: 1e-5

TRAIN:
  PRINT_FREQ: 20

MODEL:
  BACKBONE:
    NAME: "ViT-B/16"

TRAINER:
  COCOOP:
    N_CTX: 4
    CTX_INIT: "a photo of a"
    PREC: "fp16\""""


def test_cocoop_upstream_yaml_loads_unchanged(tmp_path):
    path = tmp_path / "vit_b16_c4_ep10_batch1_ctxv1.yaml"
    path.write_text(COCOOP_UPSTREAM)
    cfg = build_cfg("", str(path))
    ours = build_cfg("", os.path.join(REPO, "configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml"))
    assert (cfg.TRAINER.COCOOP.N_CTX, cfg.TRAINER.COCOOP.CTX_INIT, cfg.OPTIM.LR, cfg.DATALOADER.TRAIN_X.BATCH_SIZE) == (
        4, "a photo of a", 0.002, 1)
    assert cfg == ours  # the shipped recipe is the release's


def test_recipes_script_needs_no_torch():
    code = ("import runpy, sys; sys.modules['torch'] = None; "
            f"runpy.run_path({os.path.join(REPO, 'metaprompt/learners/recipes.py')!r}, run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert {line.split()[0] for line in out.stdout.splitlines()} == set(learner_names())
