"""Every OpenAI CLIP architecture the loader names, with random weights: sizes, trainable counts,
and one training step plus one evaluation of every learner that applies, ProMetaR and GRAM.

Sizes: the CLIP paper's hyperparameter tables (Radford et al. 2021, Tables 19 and 20), which are
also what ``clip.model.build_model`` reads off the released checkpoints. They are checked against
the published totals of OpenCLIP's model profile (``docs/model_profile.csv``, millions of
parameters for the OpenAI models), built on the meta device (no memory, no time).

Trainable counts at the true depth use the learners' published formulas, the ones
test_learner_param_counts.py pins for ViT-B/16 (CoOp: 16 context vectors x text width; VPT-deep:
tokens x vision width x layers; IVLP 4+4 at depth 9: 46,080 on ViT-B/16; MaPLe 2 tokens at depth
9: 3.55M on ViT-B/16 = 9 x 2 x text width + nine text -> vision linear maps). Only those ViT-B/16
numbers are published; the others are the same formulas at the other widths, written out below.

Running checks use each architecture at **reduced depth**: 2 text layers (of 12), 2 ViT layers
(of 12 or 24; deep prompts at depth 2), one bottleneck per ResNet stage (of 3 to 36), at an input of 2 x 2 patches (ViTs;
3 x 3 for the 336 px model) or 64 px (ResNets, a 2 x 2 attention-pool grid). Every layer keeps
its exact shapes (widths, heads, patch size, embedding size, context length, vocabulary); only
the number of layers and the positional embeddings' lengths differ from the released models.
"""
from __future__ import annotations

import os

import pytest
import torch
from clip.model import CLIP

import metaprompt  # noqa: F401  (registers trainers, datasets, backbones)
from metaprompt.clip import loading
from metaprompt.clip.loading import OPENAI_FILES
from metaprompt.config import ConfigError, build_cfg
from metaprompt.learners import CoOpLearner, IVLPLearner, MaPLeLearner, VPTLearner
from metaprompt.runtime import build_trainer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.usefixtures("one_thread")  # many small ops: one thread is faster on a shared CPU

# name: embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size, text width, text heads
# (CLIP paper, Tables 19-20; every model: context 77, vocabulary 49,408, 12 text layers).
ARCHS = {
    "RN50": (1024, 224, (3, 4, 6, 3), 64, None, 512, 8),
    "RN101": (512, 224, (3, 4, 23, 3), 64, None, 512, 8),
    "RN50x4": (640, 288, (4, 6, 10, 6), 80, None, 640, 10),
    "RN50x16": (768, 384, (6, 8, 18, 8), 96, None, 768, 12),
    "RN50x64": (1024, 448, (3, 15, 36, 10), 128, None, 1024, 16),
    "ViT-B/32": (512, 224, 12, 768, 32, 512, 8),
    "ViT-B/16": (512, 224, 12, 768, 16, 512, 8),
    "ViT-L/14": (768, 224, 24, 1024, 14, 768, 12),
    "ViT-L/14@336px": (768, 336, 24, 1024, 14, 768, 12),
}
# OpenCLIP's model profile, "params (M)" of the OpenAI models (ViT-B/32 is also published exactly:
# 151,277,313).
PUBLISHED_TOTAL_M = {"RN50": 102.01, "RN101": 119.69, "RN50x4": 178.30, "RN50x16": 290.98, "RN50x64": 623.26,
                     "ViT-B/32": 151.28, "ViT-B/16": 149.62, "ViT-L/14": 427.62, "ViT-L/14@336px": 427.94}
VITS = [n for n in ARCHS if n.startswith("ViT")]
RESNETS = [n for n in ARCHS if n.startswith("RN")]

# Trainable scalars at the true depth (formulas in the module docstring), hand-computed:
# CoOp 16 x text width; VPT 8 tokens x vision width x vision layers; IVLP 9 x 4 x (text + vision);
# MaPLe 9 x 2 x text + 9 x (text x vision + vision).
TRAINABLE = {
    "RN50": {"CoOp": 16 * 512}, "RN101": {"CoOp": 16 * 512}, "RN50x4": {"CoOp": 10_240},
    "RN50x16": {"CoOp": 12_288}, "RN50x64": {"CoOp": 16_384},
    "ViT-B/32": {"CoOp": 8_192, "VPT": 73_728, "IVLP": 46_080, "MaPLe": 3_555_072},
    "ViT-B/16": {"CoOp": 8_192, "VPT": 73_728, "IVLP": 46_080, "MaPLe": 3_555_072},
    "ViT-L/14": {"CoOp": 12_288, "VPT": 196_608, "IVLP": 64_512, "MaPLe": 7_100_928},
    "ViT-L/14@336px": {"CoOp": 12_288, "VPT": 196_608, "IVLP": 64_512, "MaPLe": 7_100_928},
}


DEPTH = 2  # text and ViT layers of the running checks; every deep prompt is set to this depth
DEEP = [f"TRAINER.{node}.{key}" for node, keys in (("IVLP", ("PROMPT_DEPTH_VISION", "PROMPT_DEPTH_TEXT")),
                                                    ("PROMETAR", ("PROMPT_DEPTH_VISION", "PROMPT_DEPTH_TEXT")),
                                                    ("VPT", ("PROMPT_DEPTH_VISION",)), ("MAPLE", ("PROMPT_DEPTH",)))
        for key in keys]


def sizes(name: str, reduced: bool = False) -> dict:
    embed, res, layers, width, patch, t_width, t_heads = ARCHS[name]
    spec = dict(embed_dim=embed, image_resolution=res, vision_layers=layers, vision_width=width,
                vision_patch_size=patch, context_length=77, vocab_size=49408, transformer_width=t_width,
                transformer_heads=t_heads, transformer_layers=12)
    if reduced:
        spec.update(transformer_layers=DEPTH, vision_layers=(1, 1, 1, 1) if patch is None else DEPTH,
                    image_resolution=64 if patch is None else patch * (3 if res == 336 else 2))
    return spec


def count(learner) -> int:
    return sum(p.numel() for p in learner.prompts.values())


@pytest.mark.parametrize("name", list(ARCHS))
def test_true_size_totals_and_trainable_counts(name):
    assert set(ARCHS) == set(OPENAI_FILES)  # every architecture the loader names
    with torch.device("meta"):  # shapes only: the 623M-parameter RN50x64 costs nothing
        model = CLIP(**sizes(name))
    total = sum(p.numel() for p in model.parameters())
    assert round(total / 1e6, 2) == PUBLISHED_TOTAL_M[name]
    if name == "ViT-B/32":
        assert total == 151_277_313
    # The learners read the token embedding (a real one of the same shape: prompt initialization
    # embeds "a photo of a") and the widths.
    emb = torch.nn.Embedding(*model.token_embedding.weight.shape)
    t_width = model.ln_final.weight.shape[0]
    expected = TRAINABLE[name]
    assert count(CoOpLearner(emb, 10, n_ctx=16)) == expected["CoOp"] == 16 * t_width
    if name in VITS:
        v_width, v_layers = model.visual.conv1.out_channels, len(model.visual.transformer.resblocks)
        assert count(VPTLearner(emb, v_width, n_ctx_vision=8, depth_vision=v_layers)) == expected["VPT"]
        assert count(IVLPLearner(emb, v_width, n_ctx_text=4, n_ctx_vision=4, ctx_init="a photo of a",
                                 depth_text=9, depth_vision=9)) == expected["IVLP"]
        assert count(MaPLeLearner(emb, v_width, n_ctx=2, ctx_init="a photo of a", depth=9)) == expected["MaPLe"]


# -- running checks at reduced depth ---------------------------------------------------------------
@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from metaprompt.meta.gram import synthetic_corpus

    folder = tmp_path_factory.mktemp("corpus")
    synthetic_corpus.generate(str(folder), n_pairs=48)
    return str(folder / "captions.csv")


@pytest.fixture(scope="module")
def backbone(request):
    """The architecture at reduced depth, built once and registered as a backbone for the trainers."""
    name = request.param
    torch.manual_seed(0)
    model = CLIP(**sizes(name, reduced=True)).float().eval()
    key = f"arch-check-{name}"
    loading.register_backbone(key)(lambda: model)
    yield name, key, sizes(name, reduced=True)["image_resolution"]
    loading._FACTORIES.pop(key, None)  # leave the registry as other tests expect it


def quick_cfg(trainer: str, recipe: str, backbone, data_root: str, out: str, *opts: str):
    _, key, size = backbone
    return build_cfg(os.path.join(REPO, "configs/datasets/synthetic.yaml"),
                     os.path.join(REPO, f"configs/trainers/{trainer}/{recipe}.yaml"),
                     ["DATASET.NUM_SHOTS", "1", "DATASET.SUBSAMPLE_CLASSES", "base", "DATALOADER.TEST.BATCH_SIZE", "8",
                      "MODEL.BACKBONE.NAME", key, "INPUT.SIZE", f"({size}, {size})",
                      *[x for k in DEEP for x in (k, str(DEPTH))], *opts],
                     {"DATASET.ROOT": data_root, "OUTPUT_DIR": out, "TRAINER.NAME": trainer, "SEED": 1})


def step_and_evaluate(cfg) -> None:
    trainer = build_trainer(cfg)
    prompts = trainer.model.prompt_learner.prompts
    before = {n: p.detach().clone() for n, p in prompts.items()}
    trainer.set_model_mode("train")
    trainer.num_batches, trainer.batch_idx = 1, 0
    trainer.forward_backward(next(iter(trainer.train_loader_x)))
    assert all(not torch.equal(p, before[n]) for n, p in prompts.items()), "a prompt tensor did not move"
    trainer.set_model_mode("eval")
    with torch.no_grad():
        logits = trainer.model_inference(next(iter(trainer.test_loader))["img"].to(trainer.device))
    assert logits.shape == (8, 5) and torch.isfinite(logits).all()


# ProMetaR's text teacher: two templates instead of CLIP's 60 (the teacher's cost, not its code, scales with them).
TEACHER = ["TRAINER.PROMETAR.TEACHER_TEMPLATES", "('a photo of a {}.', 'a drawing of a {}.')"]
VIT_RUNS = [("CoOp", "smoke"), ("VPT", "smoke"), ("IVLP", "smoke"), ("MaPLe", "smoke"), ("ProMetaR", "smoke")]
RESNET_RUNS = [("CoOp", "smoke"), ("ProMetaR", "smoke_coop")]


@pytest.mark.parametrize("backbone", VITS, indirect=True)
@pytest.mark.parametrize("trainer,recipe", VIT_RUNS)
def test_every_learner_and_prometar_train_and_evaluate_on_the_vits(backbone, trainer, recipe, data_root, tmp_path):
    step_and_evaluate(quick_cfg(trainer, recipe, backbone, data_root, str(tmp_path),
                                *(TEACHER if trainer == "ProMetaR" else ())))


@pytest.mark.parametrize("backbone", RESNETS, indirect=True)
@pytest.mark.parametrize("trainer,recipe", RESNET_RUNS)
def test_coop_and_prometar_over_coop_train_and_evaluate_on_the_resnets(backbone, trainer, recipe, data_root, tmp_path):
    step_and_evaluate(quick_cfg(trainer, recipe, backbone, data_root, str(tmp_path),
                                *(TEACHER if trainer == "ProMetaR" else ())))


@pytest.mark.parametrize("backbone", RESNETS, indirect=True)
@pytest.mark.parametrize("trainer,learner", [("VPT", "VPTLearner"), ("IVLP", "IVLPLearner"),
                                             ("MaPLe", "MaPLeLearner"), ("ProMetaR", "IVLPLearner")])
def test_vision_prompts_on_a_resnet_are_one_clear_line(backbone, trainer, learner, data_root, tmp_path):
    with pytest.raises(ConfigError) as e:
        build_trainer(quick_cfg(trainer, "smoke", backbone, data_root, str(tmp_path)))
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{learner} puts ") and "this CLIP's image encoder is a ResNet (ModifiedResNet)" in message
    assert "use a ViT backbone" in message and "CoOp (text prompts only)" in message


@pytest.mark.parametrize("backbone", list(ARCHS), indirect=True)
def test_gram_meta_trains_and_tunes_on_every_architecture(backbone, corpus, data_root, tmp_path):
    """GRAM over MaPLe on the ViTs (its coupling maps text width to vision width), over CoOp on the
    ResNets: one meta-training step on a small corpus, then one tuning step and one evaluation."""
    from metaprompt.meta.gram.metatrain import MetaTrainer

    recipe = "smoke" if backbone[0].startswith("RN") else "smoke_maple"
    quick = ["TRAINER.GRAM.META.STEPS", "1", "TRAINER.GRAM.META.K1", "4", "TRAINER.GRAM.META.TASKS_PER_STEP", "1"]
    meta_cfg = quick_cfg("GRAM", recipe, backbone, data_root, str(tmp_path), *quick)
    artefact = MetaTrainer(meta_cfg, corpus, str(tmp_path / "meta"), seed=1).run()
    step_and_evaluate(quick_cfg("GRAM", recipe, backbone, data_root, str(tmp_path / "run"), *quick,
                                "TRAINER.GRAM.ARTEFACT", artefact))
