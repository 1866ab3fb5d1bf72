"""The GPU's fp16 and amp code paths, run on CPU (``METAPROMPT_CPU_HALF=1``) for every trainer.

``fp16`` is the CoOp family's: CLIP's weights converted as CLIP converts them (LayerNorm stays
fp32), the prompts in fp16, no scaler and no fp32 master copy (ProMetaR's gate is fp32 in paper
mode, the model's dtype in reference mode). ``amp``: fp32 prompts (the master weights), fp16
autocast for the frozen encoders, a gradient scaler that skips a step on inf gradients and lowers
its scale. Each case runs a few steps from the same prompts as an fp32 run on the same batches.
"""
from __future__ import annotations

import dataclasses
import os

import pytest
import torch

import metaprompt  # noqa: F401  (registers trainers and datasets)
from metaprompt.clip import CPU_HALF_ENV, resolve_precision
from metaprompt.config import ConfigError, build_cfg
from metaprompt.meta.gram import RegulatorConfig
from metaprompt.runtime import build_trainer, set_random_seed
from test_gram_trainer import make_artefact

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["OPTIM.WARMUP_EPOCH", "0", "OPTIM.LR", "0.05", "TRAINER.PROMETAR.TEACHER_TEMPLATES", "('a photo of a {}.',)"]
# name: (recipe, config node, extra options)
CASES = {
    "CoOp": ("CoOp/smoke.yaml", "COOP", []),
    "VPT": ("VPT/smoke.yaml", "VPT", []),
    "IVLP": ("IVLP/smoke.yaml", "IVLP", []),
    "MaPLe": ("MaPLe/smoke.yaml", "MAPLE", []),
    "ProMetaR-paper-2nd": ("ProMetaR/smoke.yaml", "PROMETAR", []),
    "ProMetaR-paper-1st": ("ProMetaR/smoke.yaml", "PROMETAR", ["TRAINER.PROMETAR.FAST_ADAPTATION", "True"]),
    "ProMetaR-reference-2nd": ("ProMetaR/smoke.yaml", "PROMETAR", ["TRAINER.PROMETAR.MODE", "reference"]),
    "ProMetaR-reference-1st": ("ProMetaR/smoke.yaml", "PROMETAR", ["TRAINER.PROMETAR.MODE", "reference",
                                                                   "TRAINER.PROMETAR.FAST_ADAPTATION", "True"]),
    "GRAM": ("GRAM/smoke_ivlp.yaml", "GRAM", []),
}
LABELS = ([0, 1, 2, 0], [1, 1, 2, 0])  # every batch has >= 2 classes: ProMetaR runs Step B
# Agreement with fp32 over len(LABELS) steps at lr 0.05 (worst case over the cases, measured on
# the tiny random CLIPs: printed with -s): per-step loss relative difference (fp16 2.3e-3, amp
# 4.1e-3 over three steps) and relative error of the prompts' total update (fp16 7.5e-3, amp
# 9.2e-3). The tolerances sit about 4x above.
LOSS_TOL = {"fp16": 2e-2, "amp": 2e-2}
UPDATE_TOL = {"fp16": 3e-2, "amp": 3e-2}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def cpu_half(monkeypatch):
    monkeypatch.setenv(CPU_HALF_ENV, "1")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def artefact(data_root, tmp_path_factory) -> str:
    """A GRAM artefact for the IVLP smoke recipe, its regulator moved away from the identity."""
    path = str(tmp_path_factory.mktemp("gram") / "a.pt")
    make_artefact(make_cfg("GRAM", "fp32", data_root, path, ""), path, RegulatorConfig(), perturb=0.5)
    return path


def make_cfg(case: str, prec: str, data_root: str, out: str, artefact: str):
    recipe, node, opts = CASES[case]
    gram = ["TRAINER.GRAM.ARTEFACT", artefact] if case == "GRAM" else []
    return build_cfg(os.path.join(REPO, "configs", "datasets", "synthetic.yaml"),
                     os.path.join(REPO, "configs", "trainers", recipe),
                     ["TRAINER.NAME", recipe.split("/")[0], "DATASET.ROOT", data_root, "OUTPUT_DIR", out,
                      "DATASET.NUM_SHOTS", "2", "TEST.NO_TEST", "True", "SEED", "1", f"TRAINER.{node}.PREC", prec,
                      *FAST, *gram, *opts])


def make_trainer(case: str, prec: str, data_root: str, out: str, artefact: str = ""):
    set_random_seed(1)
    trainer = build_trainer(make_cfg(case, prec, data_root, out, artefact))
    trainer.batch_idx, trainer.num_batches, trainer.epoch = 0, 100, 0
    trainer.set_model_mode("train")
    return trainer


def batches() -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    return [{"img": torch.randn(len(labels), 3, 32, 32, generator=gen), "label": torch.tensor(labels)}
            for labels in LABELS]


def prompts(trainer) -> dict[str, torch.Tensor]:
    return {n: p.detach().float().clone() for n, p in trainer.model.prompt_learner.prompts.items()}


def initial_state(trainer) -> dict:
    state = {"learner": trainer.model.prompt_learner.state_dict()}
    if hasattr(trainer, "gate"):
        state["gate"] = trainer.gate.state_dict()
    return {k: {n: t.clone() for n, t in v.items()} for k, v in state.items()}


def train_steps(trainer, start: dict | None = None) -> tuple[list[float], dict, dict]:
    """Losses of ``len(LABELS)`` steps, and the prompts before and after (fp32 copies)."""
    if start is not None:  # the fp32 run's initial prompts and gate, cast to this run's dtypes
        trainer.model.prompt_learner.load_state_dict(start["learner"])
        if "gate" in start:
            trainer.gate.load_state_dict(start["gate"])
    before = prompts(trainer)
    torch.manual_seed(3)  # ProMetaR's episodes and mixup weights
    losses = [trainer.forward_backward(b)["loss"] for b in batches()]
    return losses, before, prompts(trainer)


def update_error(before, after, ref_before, ref_after) -> float:
    num = sum(((after[n] - before[n]) - (ref_after[n] - ref_before[n])).pow(2).sum() for n in before)
    den = sum((ref_after[n] - ref_before[n]).pow(2).sum() for n in before)
    return float((num / den).sqrt())


def frozen_linear(trainer) -> torch.nn.Linear:
    return trainer.model.image_encoder.visual.transformer.resblocks[0].mlp.c_fc


@pytest.mark.parametrize("case", CASES)
def test_fp16_and_amp_train_as_designed_and_agree_with_fp32(case, cpu_half, data_root, artefact, tmp_path):
    ref = make_trainer(case, "fp32", data_root, str(tmp_path / "fp32"), artefact)
    start = initial_state(ref)
    ref_losses, ref_before, ref_after = train_steps(ref)
    for prec in ("fp16", "amp"):
        trainer = make_trainer(case, prec, data_root, str(tmp_path / prec), artefact)
        assert trainer.prec == prec
        ctx = next(iter(trainer.model.prompt_learner.prompts.values()))
        if prec == "fp16":  # the release's: fp16 weights and prompts, fp32 LayerNorm, no scaler
            assert ctx.dtype == torch.float16 and frozen_linear(trainer).weight.dtype == torch.float16
            assert trainer.model.image_encoder.visual.ln_pre.weight.dtype == torch.float32
            assert trainer.scaler is None
        else:  # fp32 master prompts, fp16 compute, a scaler; a small initial scale so no step is skipped here
            assert ctx.dtype == torch.float32 and frozen_linear(trainer).weight.dtype == torch.float32
            assert isinstance(trainer.scaler, torch.amp.GradScaler)
            trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
        if hasattr(trainer, "gate"):  # paper: an fp32 gate; reference: the model's dtype, as the release
            paper = trainer.node.MODE == "paper"
            expected = torch.float32 if paper or prec == "amp" else torch.float16
            assert next(trainer.gate.parameters()).dtype == expected
        seen = []
        frozen_linear(trainer).register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
        losses, before, after = train_steps(trainer, start=start)
        assert set(seen) == {torch.float16}  # the frozen encoders ran in half precision
        assert all(torch.isfinite(torch.tensor(losses))) and all(torch.isfinite(p).all() for p in after.values())
        assert ctx.grad is not None and ctx.grad.dtype == ctx.dtype
        if prec == "amp":
            assert trainer.scaler.get_scale() == 2.0 ** 8  # no overflow, no skipped step
        loss_diff = max(abs(a - b) / abs(b) for a, b in zip(losses, ref_losses))
        assert loss_diff < LOSS_TOL[prec], (prec, losses, ref_losses)
        err = update_error(before, after, ref_before, ref_after)
        print(f"{case} {prec}: loss rel. diff {loss_diff:.2e}, prompt update rel. error {err:.2e}")
        assert err < UPDATE_TOL[prec], (prec, err)


@pytest.mark.parametrize("case", ["CoOp", "ProMetaR-paper-2nd", "ProMetaR-reference-1st", "GRAM"])
def test_amp_scaler_skips_the_step_on_inf_gradients_and_lowers_its_scale(case, cpu_half, data_root, artefact,
                                                                        tmp_path):
    trainer = make_trainer(case, "amp", data_root, str(tmp_path), artefact)
    first, second = batches()[:2]
    trainer.forward_backward(first)
    trainer.scaler.update(2.0 ** 100)  # fp16 backward overflows at this scale
    before = prompts(trainer)
    gate = {n: p.detach().clone() for n, p in trainer.gate.named_parameters()} if hasattr(trainer, "gate") else {}
    trainer.forward_backward(second)
    assert trainer.scaler.get_scale() < 2.0 ** 100
    for name, p in prompts(trainer).items():
        assert torch.equal(p, before[name]), name  # skipped, not stepped with inf
    for name, p in gate.items():
        assert torch.equal(trainer.gate.get_parameter(name), p), name


@pytest.mark.parametrize("batched", [False, True])
def test_prometar_skips_step_a_when_only_the_regularizer_gradient_overflows(cpu_half, data_root, tmp_path, batched):
    # The scaler checks the gradient in .grad (g_ce); g_reg is taken separately and checked by the trainer.
    trainer = make_trainer("ProMetaR-paper-2nd", "amp", data_root, str(tmp_path))
    method = trainer.method
    method.settings = dataclasses.replace(method.settings, batched_backward=batched)
    if batched:
        real = method.task_and_regularizer_gradients

        def overflowing(*args, **kwargs):
            g_ce, g_reg = real(*args, **kwargs)
            return g_ce, inf_like(g_reg)

        method.task_and_regularizer_gradients = overflowing
    else:
        real_reg = method.regularizer_gradients
        method.regularizer_gradients = lambda *a, **kw: inf_like(real_reg(*a, **kw))
    stepped = []
    trainer.backward_and_update = lambda loss, names=None: stepped.append(names)
    trainer.forward_backward(batches()[0])
    assert stepped == [["prompt_learner", "prometar_gate"]]  # Step A skipped, Step B ran
    assert trainer.scaler.get_scale() == 2.0 ** 15  # lowered once from 2 ** 16


def inf_like(grads: dict) -> dict:
    return {n: g * float("inf") for n, g in grads.items()}


def test_cpu_half_switch(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(CPU_HALF_ENV, raising=False)
    with pytest.warns(UserWarning, match=CPU_HALF_ENV):
        assert resolve_precision("fp16", cpu) == "fp32"  # the default for users: fp32 on CPU
    assert resolve_precision("amp", cpu) == "bf16"
    monkeypatch.setenv(CPU_HALF_ENV, "1")
    assert (resolve_precision("fp16", cpu), resolve_precision("amp", cpu)) == ("fp16", "amp")
    monkeypatch.setenv(CPU_HALF_ENV, "yes")
    with pytest.raises(ConfigError, match=f"{CPU_HALF_ENV}='yes': set it to 1"):
        resolve_precision("fp16", cpu)
