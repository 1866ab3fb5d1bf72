"""PromptSRC: its loss terms recomputed by hand with CLIP's own encoders, Gaussian prompt
aggregation against a hand-weighted sum of each epoch's prompts, bad GPA settings as one error,
and the release's YAML loading unchanged."""
from __future__ import annotations

import math
import os

import pytest
import torch
import torch.nn.functional as F
from runs import SYNTHETIC_YAML, assert_one_clear_error, checkpoint, run_main

import metaprompt  # noqa: F401  (registers trainers and datasets)
from metaprompt.clip import load_clip
from metaprompt.clip.openai import clip
from metaprompt.config import build_cfg
from metaprompt.clip.templates import IMAGENET_TEMPLATES
from metaprompt.runtime import build_trainer
from metaprompt.trainers.promptsrc import gpa_weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(REPO, "configs/trainers/PromptSRC/smoke.yaml")


def argv(root, out, *opts):
    return ["--root", str(root), "--seed", "1", "--trainer", "PromptSRC", "--dataset-config-file", SYNTHETIC_YAML,
            "--config-file", SMOKE, "--output-dir", str(out), "DATASET.NUM_SHOTS", "2", *map(str, opts)]


def test_loss_terms_equal_a_hand_computation_with_clips_own_encoders(synthetic_root, tmp_path):
    cfg = build_cfg(SYNTHETIC_YAML, SMOKE, ["DATASET.NUM_SHOTS", "2"],
                    {"DATASET.ROOT": str(synthetic_root), "OUTPUT_DIR": str(tmp_path), "SEED": 1,
                     "TRAINER.NAME": "PromptSRC"})
    trainer = build_trainer(cfg)
    images, labels = trainer.parse_batch_train(next(iter(trainer.train_loader_x)))
    with torch.no_grad():
        for p in trainer.model.prompt_learner.prompts.values():  # away from the initial prompts
            p.add_(0.05 * torch.randn_like(p))
        parts, logits = trainer.losses(images, labels)
        model, frozen = trainer.model, load_clip(cfg.MODEL.BACKBONE.NAME)  # the same tiny CLIP, prompt-free
        names = [c.replace("_", " ") for c in trainer.dm.dataset.classnames]
        per_template = torch.stack([frozen.encode_text(clip.tokenize([t.format(n) for n in names]))
                                    for t in IMAGENET_TEMPLATES])
        t0 = F.normalize(per_template.mean(0), dim=-1)  # textual diversity: the 60 templates' mean
        f0 = F.normalize(frozen.encode_image(images), dim=-1)
        f, t = model.features(images)
        f, t = F.normalize(f, dim=-1), F.normalize(t, dim=-1)
        p0 = F.softmax(frozen.logit_scale.exp() * f0 @ t0.T, dim=-1)
        log_p = F.log_softmax(logits, dim=-1)
        kl = (p0 * (p0.log() - log_p)).sum() / logits.numel()
    expected = {"loss_ce": F.cross_entropy(logits, labels), "loss_scl_text": 25 * (t - t0).abs().mean(),
                "loss_scl_image": 10 * (f - f0).abs().mean(), "loss_scl_logits": kl}
    assert set(parts) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(parts[name], value, rtol=1e-4, atol=1e-6, msg=name)
    assert all(v > 0 for v in expected.values())


def test_gaussian_prompt_aggregation_is_the_weighted_sum_of_each_epochs_prompts(synthetic_root, tmp_path):
    w = gpa_weights(1, 1, 2)
    by_hand = [1.0, math.exp(-0.5)]
    assert w == pytest.approx([d / sum(by_hand) for d in by_hand])
    snapshots = []
    from metaprompt.trainers.promptsrc import PromptSRC

    original = PromptSRC.update_lr

    def snapshot_then_update(self, names=None):  # called after the last step of each epoch
        snapshots.append({n: p.detach().clone() for n, p in self.model.prompt_learner.prompts.items()})
        return original(self, names)

    PromptSRC.update_lr = snapshot_then_update
    try:
        assert run_main(argv(synthetic_root, tmp_path, "OPTIM.MAX_EPOCH", 2, "TRAINER.PROMPTSRC.GPA_MEAN", 1,
                             "DATASET.NUM_SHOTS", 1, "TEST.NO_TEST", True)) == 0
    finally:
        PromptSRC.update_lr = original
    assert len(snapshots) == 2
    final = checkpoint(tmp_path, 2)["state_dict"]
    for name in snapshots[0]:
        expected = sum(wi * s[name] for wi, s in zip(w, snapshots))
        torch.testing.assert_close(final[f"prompts.{name}"], expected, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(final[f"prompts.{name}"], snapshots[-1][name])  # not just the last epoch


@pytest.mark.parametrize("opts, needle", [(("TRAINER.PROMPTSRC.GPA_STD", 0), "GPA_STD must be > 0"),
                                          (("TRAINER.PROMPTSRC.GPA_MEAN", 9000), "gives no weight to epochs")])
def test_bad_gpa_settings_are_one_clear_error(synthetic_root, tmp_path, capsys, opts, needle):
    assert_one_clear_error(capsys, run_main(argv(synthetic_root, tmp_path, *opts)), needle)


# PromptSRC's configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml (its TRAINER node), verbatim.
UPSTREAM_NODE = """TRAINER:
  PROMPTSRC:
    N_CTX_VISION: 4
    N_CTX_TEXT: 4
    CTX_INIT: "a photo of a"
    PREC: "fp16"
    PROMPT_DEPTH_VISION: 9
    PROMPT_DEPTH_TEXT: 9
    TEXT_LOSS_WEIGHT: 25
    IMAGE_LOSS_WEIGHT: 10
    GPA_MEAN: 15
    GPA_STD: 1
"""


def test_the_releases_node_loads_unchanged_and_the_recipe_holds_it(tmp_path):
    path = tmp_path / "upstream.yaml"
    path.write_text(UPSTREAM_NODE)
    upstream = build_cfg("", str(path)).TRAINER.PROMPTSRC
    ours = build_cfg("", os.path.join(REPO, "configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml"))
    assert ours.TRAINER.PROMPTSRC == upstream
    assert (ours.OPTIM.LR, ours.OPTIM.MAX_EPOCH, ours.DATALOADER.TRAIN_X.BATCH_SIZE) == (0.0025, 20, 4)
