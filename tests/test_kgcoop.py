"""KgCoOp: CoOp's context plus the text-knowledge loss, checked against a hand computation with
CLIP's own ``encode_text`` (an independent path to the frozen hand-crafted features)."""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from metaprompt.clip import build_tiny_clip
from metaprompt.clip.openai import clip
from metaprompt.config import build_cfg
from metaprompt.errors import ConfigError
from metaprompt.learners import PromptedCLIP
from metaprompt.learners.kgcoop import KgCoOpLearner
from metaprompt.runtime import build_trainer

CLASSNAMES = ["red circle", "blue square", "green triangle"]


@pytest.fixture(scope="module")
def clip_model():
    return build_tiny_clip()


def clip_text_features(clip_model, template):
    tokens = clip.tokenize([template.format(c) for c in CLASSNAMES])
    with torch.no_grad():
        return F.normalize(clip_model.encode_text(tokens).float(), dim=-1)


def test_knowledge_loss_is_zero_at_the_hand_crafted_prompt_and_w_times_one_minus_cos_elsewhere(clip_model):
    learner = KgCoOpLearner(clip_model.token_embedding, len(CLASSNAMES), weight=8.0, n_ctx=4, ctx_init="a photo of a")
    model = PromptedCLIP(clip_model, learner, CLASSNAMES)
    images, labels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 2])
    t0 = clip_text_features(clip_model, "a photo of a {}.")
    torch.testing.assert_close(learner.knowledge_features(model), t0)

    # At initialisation the learned prompt *is* "a photo of a {class}.": no knowledge gap.
    loss, logits, parts = model.training_loss(images, labels)
    assert set(parts) == {"loss_kg"} and abs(parts["loss_kg"].item()) < 1e-5
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels) + parts["loss_kg"])

    with torch.no_grad():
        learner.prompts["text_ctx"].add_(0.5 * torch.randn(learner.prompts["text_ctx"].shape,
                                                           generator=torch.Generator().manual_seed(1)))
    loss, logits, parts = model.training_loss(images, labels)
    t = F.normalize(model.encode_text().float(), dim=-1)
    by_hand = 8.0 * (1 - (t * t0).sum(-1).mean())
    assert by_hand > 1e-3
    torch.testing.assert_close(parts["loss_kg"], by_hand)
    # the paper's form: W/2 times the mean squared distance of the unit text features
    torch.testing.assert_close(parts["loss_kg"], 4.0 * ((t - t0) ** 2).sum(-1).mean())
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels) + by_hand)
    loss.backward()
    assert learner.prompts["text_ctx"].grad.abs().sum() > 0


def test_new_classes_refresh_the_knowledge_and_a_template_is_checked(clip_model):
    learner = KgCoOpLearner(clip_model.token_embedding, 2, n_ctx=4, ctx_init="a photo of a",
                            template="a sketch of a {}.")
    model = PromptedCLIP(clip_model, learner, CLASSNAMES[:2])
    first = learner.knowledge_features(model)
    model.set_classnames(CLASSNAMES)
    torch.testing.assert_close(learner.knowledge_features(model), clip_text_features(clip_model, "a sketch of a {}."))
    assert first.shape[0] == 2
    with pytest.raises(ValueError, match="exactly one '{}'"):
        KgCoOpLearner(clip_model.token_embedding, 2, template="a photo")


def gram_cfg(repo, root, out, *opts):
    return build_cfg(os.path.join(repo, "configs/datasets/synthetic.yaml"),
                     os.path.join(repo, "configs/trainers/GRAM/smoke.yaml"),
                     ["DATASET.NUM_SHOTS", "2", "TRAINER.GRAM.BASE", "KgCoOp", "TRAINER.GRAM.USE_INIT", "False",
                      "TRAINER.GRAM.USE_REGULATOR", "False", "TRAINER.KGCOOP.PREC", "fp32", *opts],
                     {"DATASET.ROOT": str(root), "OUTPUT_DIR": str(out), "SEED": 1, "TRAINER.NAME": "GRAM"})


def test_gram_wraps_kgcoop_with_its_loss_and_refuses_class_specific_contexts(repo, synthetic_root, tmp_path):
    with pytest.raises(ConfigError, match=r"GRAM cannot wrap KgCoOp with class-specific contexts "
                                          r"\(TRAINER.KGCOOP.CSC True\)"):
        build_trainer(gram_cfg(repo, synthetic_root, tmp_path / "csc", "TRAINER.KGCOOP.CSC", "True"))
    trainer = build_trainer(gram_cfg(repo, synthetic_root, tmp_path / "run"))
    assert isinstance(trainer.model.prompt_learner, KgCoOpLearner) and trainer.model.prompt_learner.weight == 8.0
    trainer.epoch, trainer.batch_idx, trainer.num_batches = 0, 0, 10
    summary = trainer.forward_backward(next(iter(trainer.train_loader_x)))
    assert summary["loss_kg"] < 1e-4  # the first step starts at the hand-crafted prompt
    summary = trainer.forward_backward(next(iter(trainer.train_loader_x)))
    assert summary["loss"] > summary["loss_kg"] > 0  # the context moved away from it


def test_prometar_wraps_kgcoop_from_its_own_node(repo, synthetic_root, tmp_path):
    cfg = build_cfg(os.path.join(repo, "configs/datasets/synthetic.yaml"),
                    os.path.join(repo, "configs/trainers/ProMetaR/smoke_coop.yaml"),
                    ["DATASET.NUM_SHOTS", "2", "TRAINER.PROMETAR.BASE", "KgCoOp", "TRAINER.KGCOOP.N_CTX", "2",
                     "TRAINER.KGCOOP.CTX_INIT", ""],
                    {"DATASET.ROOT": str(synthetic_root), "OUTPUT_DIR": str(tmp_path), "SEED": 1,
                     "TRAINER.NAME": "ProMetaR"})
    trainer = build_trainer(cfg)
    learner = trainer.model.prompt_learner
    assert isinstance(learner, KgCoOpLearner) and tuple(learner.prompts["text_ctx"].shape) == (2, 64)
    trainer.epoch, trainer.batch_idx, trainer.num_batches = 0, 0, 10
    summary = trainer.forward_backward(next(iter(trainer.train_loader_x)))
    assert "loss_meta" in summary and torch.isfinite(learner.prompts["text_ctx"]).all()


# The KgCoOp release's base-to-new recipe as its repository ships it (configs/trainers/KgCoOp/
# vit_b16_ep100_ctxv1.yaml): its keys live in TRAINER.COOP, and CTX_INIT is a switch. Its
# base2new script adds TRAINER.COOP.N_CTX / CSC / W / CLASS_TOKEN_POSITION on the command line.
RELEASE_YAML = """\
OPTIM:
  NAME: "sgd"
  LR: 0.002
  MAX_EPOCH: 100
MODEL:
  BACKBONE:
    NAME: "ViT-B/16"
TRAINER:
  COOP:
    CTX_INIT: {ctx_init}
"""
RELEASE_OPTS = ["TRAINER.COOP.N_CTX", "4", "TRAINER.COOP.CSC", "False", "TRAINER.COOP.W", "8.0",
                "TRAINER.COOP.CLASS_TOKEN_POSITION", "end"]


@pytest.mark.parametrize("ctx_init, expected", [("True", "a photo of a"), ("False", "")])
def test_the_releases_yaml_and_opts_load_unchanged_into_kgcoops_node(tmp_path, ctx_init, expected):
    path = tmp_path / "vit_b16_ep100_ctxv1.yaml"
    path.write_text(RELEASE_YAML.format(ctx_init=ctx_init))
    cfg = build_cfg(config_file=str(path), opts=RELEASE_OPTS, args_overrides={"TRAINER.NAME": "KgCoOp"})
    node = cfg.TRAINER.KGCOOP
    assert (node.CTX_INIT, node.N_CTX, node.CSC, node.W, node.CLASS_TOKEN_POSITION) == (expected, 4, False, 8.0, "end")
    assert cfg.OPTIM.MAX_EPOCH == 100 and cfg.MODEL.BACKBONE.NAME == "ViT-B/16"
    assert cfg.TRAINER.COOP == build_cfg().TRAINER.COOP  # CoOp's own node is left alone


def test_the_releases_layout_is_read_only_for_kgcoop(tmp_path):
    path = tmp_path / "vit_b16_ep100_ctxv1.yaml"
    path.write_text(RELEASE_YAML.format(ctx_init="True"))
    with pytest.raises(ConfigError, match="CTX_INIT"):  # CoOp's CTX_INIT is words, not a switch
        build_cfg(config_file=str(path), args_overrides={"TRAINER.NAME": "CoOp"})
