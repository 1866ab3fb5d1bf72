"""The trainer recipes: every YAML loads, the published ones hold the published values, and the
sweep scripts' default recipe for each trainer exists."""
from __future__ import annotations

import glob
import os
import subprocess

import pytest

import metaprompt  # noqa: F401  (registers the trainer config nodes)
from metaprompt.config import build_cfg
from metaprompt.learners import learner_names

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = sorted(glob.glob(os.path.join(REPO, "configs/trainers/*/*.yaml")))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: os.path.relpath(p, os.path.join(REPO, "configs/trainers")))
def test_every_recipe_loads(path):
    build_cfg(os.path.join(REPO, "configs/datasets/synthetic.yaml"), path)


PUBLISHED = {  # recipe -> values from the release named in its header comment
    "MaPLe/vit_b16_c2_ep5_batch4_2ctx": {"OPTIM.LR": 0.0035, "OPTIM.MAX_EPOCH": 5, "DATALOADER.TRAIN_X.BATCH_SIZE": 4,
                                        "TRAINER.MAPLE.N_CTX": 2, "TRAINER.MAPLE.PROMPT_DEPTH": 9,
                                        "TRAINER.MAPLE.CTX_INIT": "a photo of a"},
    "IVLP/vit_b16_c2_ep10_batch4_4+4ctx": {"OPTIM.LR": 0.0025, "OPTIM.MAX_EPOCH": 10,
                                          "DATALOADER.TRAIN_X.BATCH_SIZE": 4, "TRAINER.IVLP.N_CTX_TEXT": 4,
                                          "TRAINER.IVLP.N_CTX_VISION": 4, "TRAINER.IVLP.PROMPT_DEPTH_TEXT": 9,
                                          "TRAINER.IVLP.PROMPT_DEPTH_VISION": 9,
                                          "TRAINER.IVLP.CTX_INIT": "a photo of a"},
    "VPT/vit_b16_c2_ep5_batch4_4": {"OPTIM.LR": 0.0025, "OPTIM.MAX_EPOCH": 5, "TRAINER.VPT.N_CTX_VISION": 8,
                                   "TRAINER.VPT.PROMPT_DEPTH_VISION": 12},
    "CoOp/vit_b16_ctxv1": {"OPTIM.LR": 0.002, "OPTIM.MAX_EPOCH": 200, "DATALOADER.TRAIN_X.BATCH_SIZE": 32,
                          "TRAINER.COOP.CTX_INIT": "a photo of a"},
    "ZeroshotCLIP/vit_b16": {"TRAINER.ZSCLIP.TEMPLATE": "a photo of a {}."},
    "CoCoOp/vit_b16_c4_ep10_batch1_ctxv1": {"OPTIM.LR": 0.002, "OPTIM.MAX_EPOCH": 10, "DATALOADER.TRAIN_X.BATCH_SIZE": 1,
                                           "TRAINER.COCOOP.N_CTX": 4, "TRAINER.COCOOP.CTX_INIT": "a photo of a",
                                           "TRAINER.COCOOP.PREC": "fp16"},
    "PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx": {"OPTIM.LR": 0.0025, "OPTIM.MAX_EPOCH": 20,
                                               "TRAINER.PROMPTSRC.TEXT_LOSS_WEIGHT": 25,
                                               "TRAINER.PROMPTSRC.IMAGE_LOSS_WEIGHT": 10,
                                               "TRAINER.PROMPTSRC.GPA_MEAN": 15, "TRAINER.PROMPTSRC.GPA_STD": 1},
    "KgCoOp/vit_b16_ep100_ctxv1": {"OPTIM.LR": 0.002, "OPTIM.MAX_EPOCH": 100, "DATALOADER.TRAIN_X.BATCH_SIZE": 128,
                                   "TRAINER.KGCOOP.N_CTX": 4, "TRAINER.KGCOOP.CTX_INIT": "a photo of a",
                                   "TRAINER.KGCOOP.W": 8.0},
}


@pytest.mark.parametrize("recipe", list(PUBLISHED))
def test_published_recipes_hold_the_published_values(recipe):
    cfg = build_cfg("", os.path.join(REPO, f"configs/trainers/{recipe}.yaml"))
    assert cfg.MODEL.BACKBONE.NAME == "ViT-B/16" and tuple(cfg.INPUT.SIZE) == (224, 224)
    for key, value in PUBLISHED[recipe].items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node == value, key


@pytest.mark.parametrize("trainer,dataset", [("CoOp", "imagenet"), ("IVLP", "synthetic"), ("ProMetaR", "oxford_pets"),
                                             ("GRAM", "oxford_pets")]
                         + [(name, "oxford_pets") for name in learner_names()])
def test_default_recipe_of_each_trainer_exists(trainer, dataset):
    script = f'source "{REPO}/scripts/_common.sh"; default_cfg {trainer} {dataset}'
    name = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    assert os.path.isfile(os.path.join(REPO, f"configs/trainers/{trainer}/{name}.yaml")), name
    if dataset == "synthetic":
        assert name == "smoke"
