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


def test_meta_bases_results_order_and_trainers_read_the_registry():
    from metaprompt.meta.gram.config import BASE_NODES
    from metaprompt.results.render import METHOD_ORDER
    from metaprompt.trainers.prometar import BASES

    bases = learner_names(meta_base=True)
    assert set(BASES) == set(BASE_NODES) == set(bases) and "ZeroshotCLIP" not in bases
    assert METHOD_ORDER == (*learner_names(), "ProMetaR", "GRAM")
    assert set(learner_names()) <= set(TRAINER_REGISTRY._obj_map)


def test_recipes_script_needs_no_torch():
    code = ("import runpy, sys; sys.modules['torch'] = None; "
            f"runpy.run_path({os.path.join(REPO, 'metaprompt/learners/recipes.py')!r}, run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert {line.split()[0] for line in out.stdout.splitlines()} == set(learner_names())
