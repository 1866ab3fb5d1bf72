"""Mechanism diagnostics (ProMetaR's gate, GRAM's regulator), the held-out gate test, ProMetaR's
ablation and gate options. Synthetic dataset, tiny CLIP, a few steps each."""
from __future__ import annotations

import json
import math
import os

import pytest
import torch
from test_gram_trainer import hooked_grads, make_artefact
from test_gram_trainer import make_cfg as gram_cfg
from test_prometar_trainer import fixed_batch, make_trainer, snapshot

from metaprompt.config import ConfigError, build_cfg
from metaprompt.meta.diagnostics import GradientSNR, preserved_rng
from metaprompt.meta.gate_options import ConstantGate
from metaprompt.meta.gram import RegulatorConfig
from metaprompt.meta.prometar import sample_episode

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("data"))


def flat_prompts(trainer) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in trainer.model.prompt_learner.prompts.values()])


def test_gradient_snr_by_hand():
    snr = GradientSNR()
    for _ in range(4):
        snr.add(torch.tensor([3.0, 4.0]))
    assert snr.value() == pytest.approx(1.0)  # a constant direction: all signal
    snr = GradientSNR()
    snr.add(torch.tensor([1.0, 0.0]))
    snr.add(torch.tensor([-1.0, 0.0]))
    assert snr.value() == pytest.approx(0.0)  # opposite steps cancel
    snr = GradientSNR()
    for i in range(4):
        snr.add(torch.eye(4)[i])
    assert snr.value() == pytest.approx(1 / math.sqrt(4))  # orthogonal directions: the noise level 1/sqrt(n)
    assert GradientSNR().value() is None


def test_update_norms_are_the_prompts_actual_change_and_gamma_is_logged(data_root, tmp_path):
    trainer = make_trainer(data_root, str(tmp_path))
    before = flat_prompts(trainer)
    trainer.forward_backward(fixed_batch([2, 2, 2, 2]))  # one class: Step A only
    after_a = flat_prompts(trainer)
    trainer.forward_backward(fixed_batch([0, 1, 2, 0]))  # Step A then Step B
    means = trainer.diagnostics.epoch.means()
    assert means["update_a"] > 0 and means["update_b"] > 0
    first_a = float((after_a - before).norm())
    assert trainer.diagnostics.epoch.sums["update_a"] - first_a > 0  # the second step's Step A added
    assert trainer.diagnostics.epoch.counts == {**trainer.diagnostics.epoch.counts, "update_a": 2, "update_b": 1}
    scalars = {}
    values = trainer.diagnostics.end_epoch(0, lambda tag, v, step: scalars.__setitem__(tag, (v, step)))
    assert values["update_ratio_b_over_a"] == pytest.approx(means["update_b"] / means["update_a"])
    assert values["grad_ratio_b_over_a"] == pytest.approx(means["grad_b"] / means["grad_a"])
    last_b = torch.cat([p.grad.flatten() for p in trainer.model.prompt_learner.prompts.values()])
    assert means["grad_b"] == pytest.approx(float(last_b.norm()), rel=1e-5)  # Step B's gradient, LR_RATIO included
    assert values["gate_grad_snr"] == pytest.approx(1.0, rel=1e-5)  # one gate gradient: trivially one direction
    assert values["gate_grad_snr_noise"] == pytest.approx(1.0) and values["gate_change"] > 0
    assert {"gamma_text_mean", "gamma_vision_std"} <= set(values)
    assert scalars["diagnostics/update_ratio_b_over_a"] == (values["update_ratio_b_over_a"], 1)


def test_heldout_gate_test_arms_and_it_leaves_random_streams_alone(data_root, tmp_path):
    trainer = make_trainer(data_root, str(tmp_path), "TRAINER.PROMETAR.DIAG_EPISODES", "3")
    with torch.no_grad():
        for p in trainer.gate.parameters():
            p.zero_()  # sigmoid(0) = 0.5: the learned gate IS gamma = 0.5, and differs from its initial weights
    trainer.test_loader = None  # the test split is never read
    state = torch.get_rng_state()
    result = trainer.heldout_gate_test(3)
    assert torch.equal(state, torch.get_rng_state())
    assert result["episodes"] == 3 and set(result["meta_loss"]) == {"learned", "initial", "gamma_0.5"}
    assert result["learned_minus_gamma_0.5"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert result["meta_loss"]["initial"] != result["meta_loss"]["learned"]
    assert trainer.heldout_gate_test(3) == result  # same episodes every time (fixed seed)


def test_a_training_run_logs_diagnostics_and_writes_them_beside_the_log(data_root, tmp_path):
    out = str(tmp_path / "run")
    trainer = make_trainer(data_root, out, "OPTIM.MAX_EPOCH", "1", "OPTIM_VNET.MAX_EPOCH", "1",
                           "TRAINER.PROMETAR.DIAG_EPISODES", "2")
    trainer.train()
    record = json.load(open(os.path.join(out, "diagnostics.json")))
    (epoch,) = record["per_epoch"]
    assert epoch["epoch"] == 1 and {"update_a", "update_b", "update_ratio_b_over_a", "gate_grad_snr"} <= set(epoch)
    assert record["final"]["heldout_gate_test"]["episodes"] == 2


def test_fixed_regularizer_ablation_never_runs_a_meta_step_and_no_mixup_keeps_the_random_stream(data_root, tmp_path):
    trainer = make_trainer(data_root, str(tmp_path), "TRAINER.PROMETAR.FIXED_GAMMA", "0.5",
                           "TRAINER.PROMETAR.STEP_B", "False")
    gate = snapshot(trainer.gate)
    summary = trainer.forward_backward(fixed_batch([0, 1, 2, 0]))
    assert "loss_meta" not in summary and summary["gamma_text_mean"] == summary["gamma_vision_std"] + 0.5 == 0.5
    assert all(torch.equal(gate[n], p) for n, p in trainer.gate.named_parameters())
    assert isinstance(trainer.method.gate, ConstantGate)
    labels = torch.tensor([0, 1, 1, 2, 2, 0])
    torch.manual_seed(3)
    mixed = sample_episode(labels)
    torch.manual_seed(3)
    plain = sample_episode(labels, mixup=False)
    assert torch.equal(mixed.query, plain.query) and torch.equal(mixed.mix, plain.mix)
    assert torch.equal(plain.lam, torch.ones_like(mixed.lam)) and not torch.equal(mixed.lam, plain.lam)


@pytest.mark.parametrize("granularity", ["token", "tensor"])
def test_coarse_gates_share_gamma_and_learn_with_their_own_scale_and_adam(data_root, tmp_path, granularity):
    trainer = make_trainer(data_root, str(tmp_path), "TRAINER.PROMETAR.GATE_GRANULARITY", granularity,
                           "TRAINER.PROMETAR.GATE_GRAD", "scale", "TRAINER.PROMETAR.GATE_LOSS_SCALE", "100.0",
                           "OPTIM_VNET.NAME", "adam", "OPTIM_VNET.LR", "0.01")
    prompts = trainer.model.prompt_learner.prompts
    g = {n: torch.randn_like(p) for n, p in prompts.items()}
    _, gamma = trainer.gate(g, g)
    for name, value in gamma.items():
        rows = value.reshape(-1, value.shape[-1]) if granularity == "token" else value.reshape(1, -1)
        assert torch.equal(rows, rows[:, :1].expand_as(rows)), name  # one gamma per token / tensor
    assert isinstance(trainer.optim_gate, torch.optim.Adam)
    gate = snapshot(trainer.gate)
    trainer.sched_gate.step()  # past the warm-up constant
    trainer.forward_backward(fixed_batch([0, 1, 2, 0]))
    assert any(not torch.equal(gate[n], p) for n, p in trainer.gate.named_parameters())


@pytest.mark.parametrize("opts, message", [
    (["TRAINER.PROMETAR.GATE_GRAD", "adam"], "GATE_GRAD='adam' is not supported"),
    (["TRAINER.PROMETAR.GATE_GRANULARITY", "row"], "GATE_GRANULARITY='row' is not supported"),
    (["TRAINER.PROMETAR.MODE", "reference", "TRAINER.PROMETAR.GATE_GRANULARITY", "token"], "paper-mode options"),
    (["TRAINER.PROMETAR.FIXED_GAMMA", "2.0"], "must be in [0, 1]"),
    (["TRAINER.PROMETAR.DIAG_EPISODES", "-1"], "DIAG_EPISODES must be >= 0"),
])
def test_bad_gate_options_are_one_clear_error(data_root, tmp_path, opts, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_trainer(data_root, str(tmp_path), *opts)


def test_ablation_recipes_load_and_differ_from_the_toy_recipe_only_where_they_say():
    def load(trainer, name):
        return build_cfg(os.path.join(REPO, "configs", "datasets", "toy_textures.yaml"),
                         os.path.join(REPO, "configs", "trainers", trainer, f"{name}.yaml"), [],
                         {"TRAINER.NAME": trainer})

    def diff(trainer, name, against="toy"):
        from metaprompt.runtime.identity import flatten
        a, b = flatten(load(trainer, against)), flatten(load(trainer, name))
        return {k: b[k] for k in a if a[k] != b[k]}

    assert diff("ProMetaR", "toy_reference") == {"TRAINER.PROMETAR.MODE": "reference"}
    assert diff("ProMetaR", "toy_fixed_reg") == {"TRAINER.PROMETAR.FIXED_GAMMA": 0.5, "TRAINER.PROMETAR.STEP_B": False}
    assert diff("ProMetaR", "toy_no_mixup") == {"TRAINER.PROMETAR.VIRTUAL_TASKS": False}
    assert diff("GRAM", "toy_init_only") == {"TRAINER.GRAM.USE_REGULATOR": False}
    assert diff("GRAM", "toy_regulator_only") == {"TRAINER.GRAM.USE_INIT": False}
    # toy-vit-l12: the toy recipe on the 12-layer CLIP, the release's depth 9; its ablations as above.
    l12 = {"MODEL.BACKBONE.NAME": "toy-vit-l12"}
    for trainer in ("ZeroshotCLIP", "CoOp"):
        assert diff(trainer, "toy_l12") == l12
    assert diff("IVLP", "toy_l12") == {**l12, "TRAINER.IVLP.PROMPT_DEPTH_TEXT": 9, "TRAINER.IVLP.PROMPT_DEPTH_VISION": 9}
    assert diff("ProMetaR", "toy_l12") == {**l12, "TRAINER.PROMETAR.PROMPT_DEPTH_TEXT": 9,
                                           "TRAINER.PROMETAR.PROMPT_DEPTH_VISION": 9}
    assert diff("ProMetaR", "toy_l12_reference", "toy_l12") == {"TRAINER.PROMETAR.MODE": "reference"}
    assert diff("ProMetaR", "toy_l12_fixed_reg", "toy_l12") == {"TRAINER.PROMETAR.FIXED_GAMMA": 0.5,
                                                                 "TRAINER.PROMETAR.STEP_B": False}


def test_gram_regulator_diagnostics_norm_ratio_and_cosine(repo, data_root, tmp_path):
    cfg = gram_cfg(repo, data_root, tmp_path / "run", "smoke_ivlp", "TRAINER.GRAM.ARTEFACT", str(tmp_path / "a.pt"))
    make_artefact(cfg, tmp_path / "a.pt", RegulatorConfig(modalities=("text",)), perturb=0.5)
    from metaprompt.runtime import build_trainer
    trainer = build_trainer(cfg)
    raw, seen = hooked_grads(trainer)
    names = trainer.regulator.names
    a = torch.cat([raw[n].flatten() for n in names])
    b = torch.cat([seen[n].flatten() for n in names])
    values = trainer.diagnostics.end_epoch(0, lambda *args: None)
    assert values["regulated_over_raw"] == pytest.approx(float(b.norm() / a.norm()), rel=1e-5)
    assert values["cosine"] == pytest.approx(float(a @ b / (a.norm() * b.norm())), rel=1e-5)
    assert values["cosine"] < 0.9999  # this regulator turns the direction


def test_preserved_rng_restores_every_stream():
    import random

    import numpy as np
    state = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    with preserved_rng():
        torch.rand(3), random.random(), np.random.rand()
    assert torch.equal(state[0], torch.get_rng_state()) and state[1] == random.getstate()
    assert (state[2] == np.random.get_state()[1]).all()
