"""The ProMetaR trainer: Step A at gamma = 0.5, the gate in paper vs reference mode, learning-rate
sequences, checkpoints and resume, configs. All on the embedded synthetic dataset with tiny CLIP."""
from __future__ import annotations

import math
import os
import shutil

import pytest
import torch
import torch.nn.functional as F

import metaprompt  # noqa: F401  (registers trainers and datasets)
from metaprompt.clip import double_precision
from metaprompt.config import ConfigError, build_cfg
from metaprompt.meta.regularizers import text_teacher
from metaprompt.runtime import build_trainer, set_random_seed

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, "configs", "trainers", "ProMetaR")
RELEASE_OPTIM = ["OPTIM.LR", "0.0025", "OPTIM.MAX_EPOCH", "10",
                 "OPTIM_VNET.LR", "0.00025", "OPTIM_VNET.MAX_EPOCH", "10"]

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: restored afterwards



@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("data"))


def make_cfg(data_root: str, output_dir: str, *opts: str, config: str = "smoke.yaml"):
    return build_cfg(os.path.join(REPO, "configs", "datasets", "synthetic.yaml"), os.path.join(CONFIGS, config),
                     ["TRAINER.NAME", "ProMetaR", "DATASET.ROOT", data_root, "OUTPUT_DIR", output_dir,
                      "DATASET.NUM_SHOTS", "2", "DATASET.SUBSAMPLE_CLASSES", "base", "TEST.NO_TEST", "True",
                      "SEED", "1", *opts])  # SEED fixes the few-shot draw


def make_trainer(data_root: str, output_dir: str, *opts: str, seed: int = 1, config: str = "smoke.yaml"):
    set_random_seed(seed)  # the run's random streams (a resumed run must restore them)
    trainer = build_trainer(make_cfg(data_root, output_dir, *opts, config=config))
    trainer.batch_idx, trainer.num_batches, trainer.epoch = 0, 100, 0
    trainer.set_model_mode("train")
    return trainer


def fixed_batch(labels: list[int], dtype: torch.dtype = torch.float32) -> dict:
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(len(labels), 3, 32, 32, generator=gen, dtype=dtype)
    return {"img": images, "label": torch.tensor(labels)}


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_step_a_with_gamma_at_one_half_is_a_plain_step_with_weights_25_and_10(data_root, tmp_path):
    trainer = make_trainer(data_root, str(tmp_path))
    double_precision(trainer.model)  # float64, same parameter objects: the comparison is exact
    trainer.model.text_encoder.dtype = trainer.model.image_encoder.dtype = torch.float64
    with torch.no_grad():
        for p in trainer.gate.parameters():
            p.zero_()  # sigmoid(0) = 0.5 everywhere
    for group in trainer.optim.param_groups:
        group["lr"] = 0.5  # a step large enough to tell the weights apart
    batch = fixed_batch([2, 2, 2, 2], torch.float64)  # one class: Step B is skipped, only Step A runs
    start = snapshot(trainer.model.prompt_learner)
    summary = trainer.forward_backward(batch)
    assert "loss_meta" not in summary
    assert summary["gamma_text_mean"] == summary["gamma_vision_mean"] == 0.5
    got = snapshot(trainer.model.prompt_learner)

    def plain_step(w_text: float, w_image: float) -> dict[str, torch.Tensor]:
        model, images, labels = trainer.model, batch["img"], batch["label"]
        params = {n.removeprefix("prompts."): p.clone().requires_grad_(True) for n, p in start.items()}
        image_features, text_features = model.encode_image(images, params), model.encode_text(params)
        with torch.no_grad():
            frozen_image = F.normalize(model.image_encoder(images), dim=-1)
        loss = (F.cross_entropy(model.logits(image_features, text_features), labels)
                + w_text * F.l1_loss(F.normalize(text_features, dim=-1), trainer.method.text_teacher)
                + w_image * F.l1_loss(F.normalize(image_features, dim=-1), frozen_image))
        group = trainer.optim.param_groups[0]
        optim = torch.optim.SGD(params.values(), lr=0.5, momentum=group["momentum"],
                                weight_decay=group["weight_decay"])
        loss.backward()
        optim.step()
        return {f"prompts.{n}": p.detach() for n, p in params.items()}

    expected, full_weights = plain_step(25.0, 10.0), plain_step(50.0, 20.0)
    for name in got:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-10, atol=1e-12)
    assert any(not torch.allclose(got[n], full_weights[n], atol=1e-5) for n in got)  # the weights matter


def relative_change(before: dict, after: dict) -> float:
    return max(((after[n] - before[n]).norm() / before[n].norm()).item() for n in before)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize("mode", ["paper", "reference"])
def test_gate_learns_in_paper_mode_and_stays_frozen_in_reference_mode(data_root, tmp_path, mode):
    trainer = make_trainer(data_root, str(tmp_path), "TRAINER.PROMETAR.MODE", mode, *RELEASE_OPTIM)
    trainer.sched.step()  # past the warm-up epoch: the release's "nominal" learning rates
    if mode == "paper":
        trainer.sched_gate.step()
    start = snapshot(trainer.gate)
    batch = fixed_batch([0, 1, 2, 0])
    for _ in range(3):
        summary = trainer.forward_backward(batch)
        assert "loss_meta" in summary
        for name, p in trainer.gate.named_parameters():
            assert p.grad is not None and p.grad.abs().max() > 0, name
    change = relative_change(start, snapshot(trainer.gate))
    if mode == "paper":
        assert trainer.optim_gate.param_groups[0]["lr"] == pytest.approx(2.5e-4)
        assert change > 1e-3
    else:  # the release: the schedule never leaves its warm-up constant, the gradient is scaled by 5e-4
        assert trainer.optim_gate.param_groups[0]["lr"] == pytest.approx(1e-6)
        assert change < 1e-6


def recorded_lrs(trainer) -> list[tuple[float, float]]:
    lrs = []
    original = trainer.forward_backward

    def recording(batch):
        lrs.append((trainer.optim.param_groups[0]["lr"], trainer.optim_gate.param_groups[0]["lr"]))
        return original(batch)

    trainer.forward_backward = recording
    trainer.train()
    return lrs


@pytest.mark.parametrize("mode", ["reference", "paper"])
def test_learning_rate_sequences_of_both_optimizers(data_root, tmp_path, mode):
    # One shot of five base classes and batch 4: one iteration per epoch, ten epochs.
    trainer = make_trainer(data_root, str(tmp_path), "DATASET.NUM_SHOTS", "1", "TRAINER.PROMETAR.MODE", mode,
                           *RELEASE_OPTIM)
    lrs = recorded_lrs(trainer)
    cosine = [(1 + math.cos(math.pi * (e - 1) / 10)) / 2 for e in range(10)]  # epochs 1..9 after warm-up
    prompts = [1e-5] + [0.0025 * c for c in cosine[1:]]
    gate = [1e-6] * 10 if mode == "reference" else [1e-6] + [0.00025 * c for c in cosine[1:]]
    assert [p for p, _ in lrs] == pytest.approx(prompts, rel=1e-12)
    assert [g for _, g in lrs] == pytest.approx(gate, rel=1e-12)


def test_resume_continues_exactly_and_evaluation_needs_no_gate(data_root, tmp_path, monkeypatch):
    opts = ("OPTIM.MAX_EPOCH", "2", "OPTIM_VNET.MAX_EPOCH", "2")
    straight = make_trainer(data_root, str(tmp_path / "straight"), *opts)
    straight.train()

    interrupted = make_trainer(data_root, str(tmp_path / "resumed"), *opts)
    run_epoch = type(interrupted).run_epoch

    def crash_in_second_epoch(self):
        if self.epoch == 1:
            raise KeyboardInterrupt
        run_epoch(self)

    monkeypatch.setattr(type(interrupted), "run_epoch", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    monkeypatch.undo()
    resumed = make_trainer(data_root, str(tmp_path / "resumed"), *opts, seed=7)
    resumed.train()

    for name in ("prompt_learner", "prometar_gate"):
        for key, value in straight._models[name].state_dict().items():
            torch.testing.assert_close(resumed._models[name].state_dict()[key], value, rtol=0, atol=0)
        a, b = straight._optims[name].state_dict(), resumed._optims[name].state_dict()
        for idx, state in a["state"].items():
            torch.testing.assert_close(b["state"][idx]["momentum_buffer"], state["momentum_buffer"], rtol=0, atol=0)
        assert straight._scheds[name].state_dict() == resumed._scheds[name].state_dict()

    # Evaluation reads the prompts only: the training-only gate folder can be deleted.
    shutil.rmtree(tmp_path / "resumed" / "prometar_gate")
    evaluator = make_trainer(data_root, str(tmp_path / "eval"), *opts)
    evaluator.load_model(str(tmp_path / "resumed"), epoch=2)
    for key, value in straight.model.prompt_learner.state_dict().items():
        torch.testing.assert_close(evaluator.model.prompt_learner.state_dict()[key], value, rtol=0, atol=0)
    assert evaluator.test() >= 0.0


def test_release_recipe_and_per_learner_recipes_load_unchanged():
    cfg = build_cfg(config_file=os.path.join(CONFIGS, "vit_b16_c2_ep10_batch4_4+4ctx.yaml"))
    node = cfg.TRAINER.PROMETAR
    assert (node.BASE, node.MODE, node.PREC) == ("IVLP", "paper", "fp16")
    assert (node.N_CTX_TEXT, node.N_CTX_VISION, node.PROMPT_DEPTH_TEXT, node.PROMPT_DEPTH_VISION) == (4, 4, 9, 9)
    assert (node.ADAPT_LR, node.LR_RATIO, node.DIM_RATE, node.FAST_ADAPTATION) == (5e-4, 5e-4, 8, False)
    assert (cfg.OPTIM_VNET.NAME, cfg.OPTIM_VNET.LR, cfg.OPTIM_VNET.WARMUP_CONS_LR) == ("sgd", 2.5e-4, 1e-6)
    assert (node.TEXT_REG_WEIGHT, node.IMAGE_REG_WEIGHT) == (50.0, 20.0)
    bases = {}
    for name in sorted(os.listdir(CONFIGS)):
        bases[name] = build_cfg(config_file=os.path.join(CONFIGS, name)).TRAINER.PROMETAR.BASE
    assert set(bases.values()) == {"IVLP", "CoOp", "VPT", "MaPLe"}


@pytest.mark.parametrize("key, value, message", [("BASE", "CoCoOp", "BASE='CoCoOp' cannot be wrapped"),
                                                 ("MODE", "faithful", "MODE='faithful' is not supported")])
def test_bad_base_or_mode_is_one_clear_error(data_root, tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=message):
        make_trainer(data_root, str(tmp_path), f"TRAINER.PROMETAR.{key}", value)


def test_teacher_templates_can_be_given_and_must_hold_the_class_slot(data_root, tmp_path):
    templates = ("a photo of a {}.", "a sketch of a {}.")
    trainer = make_trainer(data_root, str(tmp_path), "TRAINER.PROMETAR.TEACHER_TEMPLATES", repr(templates))
    expected = text_teacher(trainer.model, trainer.dm.dataset.classnames, templates)
    assert torch.equal(trainer.method.text_teacher, expected)
    release = text_teacher(trainer.model, trainer.dm.dataset.classnames)  # the 60 ImageNet templates
    assert not torch.allclose(expected, release)
    with pytest.raises(ConfigError, match="one '{}' for the class name"):
        make_trainer(data_root, str(tmp_path / "bad"), "TRAINER.PROMETAR.TEACHER_TEMPLATES", "('a photo.',)")


@pytest.mark.parametrize("mode", ["paper", "reference"])
@pytest.mark.parametrize("first_order", [False, True])
def test_batched_backward_gives_the_two_pass_step(data_root, tmp_path, mode, first_order):
    # One batched backward for g_ce and g_reg (Step A and the inner step) is the release's two
    # passes up to float rounding: float64, two steps with Step A and Step B, prompts and gate.
    import dataclasses

    results = []
    for batched in (True, False):
        trainer = make_trainer(data_root, str(tmp_path / str(batched)), "TRAINER.PROMETAR.MODE", mode,
                               "TRAINER.PROMETAR.FAST_ADAPTATION", str(first_order), "OPTIM.WARMUP_EPOCH", "0",
                               "TRAINER.PROMETAR.TEACHER_TEMPLATES", "('a photo of a {}.',)")
        double_precision(trainer.model)
        trainer.model.text_encoder.dtype = trainer.model.image_encoder.dtype = torch.float64
        trainer.gate.double()
        method = trainer.method
        method.settings = dataclasses.replace(method.settings, batched_backward=batched)
        method.text_teacher = method.text_teacher.double()
        torch.manual_seed(0)
        for labels in ([0, 1, 2, 0], [1, 1, 2, 0]):
            assert "loss_meta" in trainer.forward_backward(fixed_batch(labels, torch.float64))
        results.append({**snapshot(trainer.model.prompt_learner), **snapshot(trainer.gate)})
    batched, two_pass = results
    start = snapshot(make_trainer(data_root, str(tmp_path / "init")).model.prompt_learner)
    for name in batched:
        torch.testing.assert_close(batched[name], two_pass[name], rtol=1e-9, atol=1e-12)
    assert any(not torch.allclose(batched[n].float(), start[n]) for n in start)  # the prompts moved
