"""The GRAM trainer: artefact loading and checks, and the gradient hook between backward and step."""
import os

import pytest
import torch
import torch.nn.functional as F

import metaprompt  # noqa: F401  (registers trainers and datasets)
from metaprompt.clip import load_clip
from metaprompt.config import ConfigError, build_cfg
from metaprompt.meta.gram import (Artefact, ArtefactError, Regulator, RegulatorConfig, build_learner,
                                  learner_config, save_artefact)
from metaprompt.runtime import build_trainer


def make_cfg(repo, root, out, recipe="smoke_ivlp", *opts):
    return build_cfg(os.path.join(repo, "configs/datasets/synthetic.yaml"),
                     os.path.join(repo, "configs/trainers/GRAM", f"{recipe}.yaml"),
                     ["DATASET.NUM_SHOTS", "2", "OPTIM.WEIGHT_DECAY", "0.0", *opts],
                     {"DATASET.ROOT": str(root), "OUTPUT_DIR": str(out), "SEED": 1, "TRAINER.NAME": "GRAM"})


def make_artefact(cfg, path, config: RegulatorConfig, perturb: float = 0.0, seed: int = 5) -> Artefact:
    """An artefact for ``cfg``'s learner: random prompts, a regulator moved ``perturb`` away from identity."""
    clip_model = load_clip(cfg.MODEL.BACKBONE.NAME)
    torch.manual_seed(seed)
    learner = build_learner(cfg, clip_model.token_embedding, clip_model.visual.conv1.out_channels, 3)
    reg = Regulator(config, {n: p.shape for n, p in learner.prompts.items()}, learner.specs, 32)
    with torch.no_grad():
        for p in reg.parameters():
            p.add_(perturb * torch.randn_like(p))
    art = Artefact(base=cfg.TRAINER.GRAM.BASE, learner_config=learner_config(cfg),
                   backbone={"name": cfg.MODEL.BACKBONE.NAME, "path": ""},
                   prompts={n: torch.randn_like(p) * 0.1 for n, p in learner.prompts.items()},
                   specs={n: [s.modality, s.layer] for n, s in learner.specs.items()},
                   regulator_config=config.to_dict(), regulator_state=reg.state_dict(), task_dim=reg.task_dim,
                   corpus={"fingerprint": "test", "fingerprint_mode": "content", "n_pairs": 0, "path": ""})
    save_artefact(str(path), art)
    return art


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def hooked_grads(trainer):
    """Raw gradients of one batch, and the gradients the optimizer step receives after the hook."""
    batch = next(iter(trainer.train_loader_x))
    images, labels = trainer.parse_batch_train(batch)
    prompts = trainer.model.prompt_learner.prompts
    raw = torch.autograd.grad(F.cross_entropy(trainer.model(images), labels), list(prompts.values()))
    seen = {}
    trainer.model_update = lambda names=None: seen.update({n: p.grad.clone() for n, p in prompts.items()})
    trainer.backward_and_update(F.cross_entropy(trainer.model(images), labels))
    return dict(zip(prompts.keys(), raw)), seen


def test_hook_replaces_only_the_regulated_gradients(repo, data_root, tmp_path):
    cfg = make_cfg(repo, data_root, tmp_path / "run", "smoke_ivlp", "TRAINER.GRAM.ARTEFACT", str(tmp_path / "a.pt"))
    art = make_artefact(cfg, tmp_path / "a.pt", RegulatorConfig(modalities=("text",)), perturb=0.5)
    trainer = build_trainer(cfg)
    raw, seen = hooked_grads(trainer)
    expected = art.build_regulator()(raw)
    for name in raw:
        if name.startswith("vision"):
            assert torch.equal(seen[name], raw[name]), name  # not regulated: untouched
        else:
            torch.testing.assert_close(seen[name], expected[name])
            assert not torch.allclose(seen[name], raw[name]), name
            # The gate turns the direction and keeps the raw norm.
            torch.testing.assert_close(seen[name].norm(), raw[name].norm())


def test_identity_regulator_leaves_gradients_unchanged(repo, data_root, tmp_path):
    for kind in ("gate", "elementwise", "lowrank"):
        cfg = make_cfg(repo, data_root, tmp_path / kind, "smoke_maple", "TRAINER.GRAM.ARTEFACT", str(tmp_path / "i.pt"))
        make_artefact(cfg, tmp_path / "i.pt", RegulatorConfig(kind=kind))  # every kind starts as the identity
        raw, seen = hooked_grads(build_trainer(cfg))
        for name in raw:
            assert torch.equal(seen[name], raw[name]), (kind, name)


def test_use_init_loads_the_artefact_prompts_and_ablations_switch_parts_off(repo, data_root, tmp_path):
    path = str(tmp_path / "a.pt")
    cfg = make_cfg(repo, data_root, tmp_path / "r1", "smoke", "TRAINER.GRAM.ARTEFACT", path)
    art = make_artefact(cfg, path, RegulatorConfig())
    trainer = build_trainer(cfg)
    assert torch.equal(trainer.model.prompt_learner.prompts["text_ctx"], art.prompts["text_ctx"])
    assert trainer.regulator is not None

    off = build_trainer(make_cfg(repo, data_root, tmp_path / "r2", "smoke", "TRAINER.GRAM.ARTEFACT", path,
                                 "TRAINER.GRAM.USE_INIT", "False"))
    assert not torch.equal(off.model.prompt_learner.prompts["text_ctx"], art.prompts["text_ctx"])
    assert off.regulator is not None
    plain = build_trainer(make_cfg(repo, data_root, tmp_path / "r3", "smoke", "TRAINER.GRAM.USE_INIT", "False",
                                   "TRAINER.GRAM.USE_REGULATOR", "False"))  # the base method: no artefact needed
    assert plain.regulator is None
    # CoOp's own init: the embedding of "a photo of a".
    torch.testing.assert_close(off.model.prompt_learner.prompts["text_ctx"], plain.model.prompt_learner.prompts["text_ctx"])


def test_artefact_for_another_prompt_configuration_is_one_clear_error(repo, data_root, tmp_path):
    path = str(tmp_path / "a.pt")
    make_artefact(make_cfg(repo, data_root, tmp_path / "r", "smoke_ivlp", "TRAINER.GRAM.ARTEFACT", path), path,
                  RegulatorConfig())
    cfg = make_cfg(repo, data_root, tmp_path / "r", "smoke_ivlp", "TRAINER.GRAM.ARTEFACT", path,
                   "TRAINER.IVLP.N_CTX_TEXT", "2")
    with pytest.raises(ArtefactError) as e:
        build_trainer(cfg)
    msg = str(e.value)
    assert "prompt text_ctx: artefact shape (4, 64), this run's shape (2, 64)" in msg
    assert "N_CTX_TEXT: artefact 4, this run 2" in msg
    with pytest.raises(ArtefactError, match="wrapped learner: artefact IVLP, this run MaPLe"):
        build_trainer(make_cfg(repo, data_root, tmp_path / "r", "smoke_maple", "TRAINER.GRAM.ARTEFACT", path))


def test_missing_artefact_is_a_clear_cli_error(repo, data_root, tmp_path, capsys):
    from metaprompt.cli.train import main

    argv = ["--root", str(data_root), "--trainer", "GRAM", "--output-dir", str(tmp_path / "out"),
            "--dataset-config-file", os.path.join(repo, "configs/datasets/synthetic.yaml"),
            "--config-file", os.path.join(repo, "configs/trainers/GRAM/smoke.yaml")]
    assert main(argv) == 2
    assert "TRAINER.GRAM.ARTEFACT is empty" in capsys.readouterr().err
    assert main(argv + ["TRAINER.GRAM.ARTEFACT", str(tmp_path / "nope.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="BASE='CoCoOp'"):
        build_trainer(make_cfg(repo, data_root, tmp_path / "r", "smoke", "TRAINER.GRAM.BASE", "CoCoOp"))


def test_task_conditioned_regulator_gets_the_few_shot_set_embedding(repo, data_root, tmp_path):
    cfg = make_cfg(repo, data_root, tmp_path / "run", "smoke", "TRAINER.GRAM.ARTEFACT", str(tmp_path / "t.pt"))
    art = make_artefact(cfg, tmp_path / "t.pt", RegulatorConfig(task_cond=True), perturb=0.5)
    trainer = build_trainer(cfg)
    raw, seen = hooked_grads(trainer)
    task = trainer._task
    assert task.shape == (32,) and task.norm() <= 1 + 1e-6  # a mean of unit vectors
    # Mean normalised frozen (prompt-free) image feature over the 2-shot training set, by hand.
    tfm = trainer.test_loader.dataset.transform
    from PIL import Image

    images = torch.stack([tfm(Image.open(x.impath).convert("RGB")) for x in trainer.dm.dataset.train_x])
    with torch.no_grad():
        want = F.normalize(trainer.model.image_encoder(images), dim=-1).mean(0)
    torch.testing.assert_close(task, want)
    torch.testing.assert_close(seen["text_ctx"], art.build_regulator()(raw, want)["text_ctx"])
