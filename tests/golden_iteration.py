"""Golden outputs: one full training iteration of ProMetaR (reference and paper mode) and GRAM,
recorded on the tiny CLIP, so a refactor of the gradient path provably keeps the numbers.

What is recorded per case (see :func:`record`):

* the losses the trainer reports (``loss``, ``reg_text``, ``reg_image``, ``loss_meta`` ...);
* every gamma the ProMetaR gate computes, in call order (Step A, then Step B's inner step);
* for every optimizer step (Step A, Step B): the gradient each registered tensor holds when the
  optimizer steps, and the tensor after the step;
* for GRAM, also one meta-training episode (the functional inner step through the regulator):
  the query loss and its gradients w.r.t. the prompts and the regulator.

The file ``tests/golden/iterations.pt`` is the recording of the code at the commit that wrote it.
Regenerate it ONLY on purpose, when a change of the numbers is intended and explained in the
commit message::

    python tests/golden_iteration.py --write

``python tests/golden_iteration.py`` (without ``--write``) compares today's code with the file
and prints the largest deviation per case. The test is tests/test_golden_iteration.py.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
GOLDEN = os.path.join(HERE, "golden", "iterations.pt")
CASES = ("prometar_reference", "prometar_paper", "gram")
# Deliberately not the release's warm-up learning rates (1e-5, 1e-6): steps large enough that a
# wrong update shows in fp32. One teacher template keeps the text teacher cheap.
PROMETAR_OPTS = ["OPTIM.WARMUP_EPOCH", "0", "OPTIM_VNET.WARMUP_EPOCH", "0",
                 "TRAINER.PROMETAR.TEACHER_TEMPLATES", "('a photo of a {}.',)"]
LABELS = [0, 1, 2, 0]  # two or more classes: ProMetaR runs Step B


def fixed_batch() -> dict:
    gen = torch.Generator().manual_seed(0)
    return {"img": torch.randn(len(LABELS), 3, 32, 32, generator=gen), "label": torch.tensor(LABELS)}


def build(case: str, data_root: str, out: str, extra_opts: tuple[str, ...] = ()):
    import metaprompt  # noqa: F401  (registers trainers and datasets)
    from metaprompt.config import build_cfg
    from metaprompt.runtime import build_trainer, set_random_seed

    if case.startswith("prometar"):
        recipe = os.path.join(REPO, "configs", "trainers", "ProMetaR", "smoke.yaml")
        opts = ["TRAINER.NAME", "ProMetaR", "TRAINER.PROMETAR.MODE", case.split("_")[1], *PROMETAR_OPTS]
    else:
        from metaprompt.meta.gram import RegulatorConfig
        from test_gram_trainer import make_artefact

        recipe = os.path.join(REPO, "configs", "trainers", "GRAM", "smoke_ivlp.yaml")
        artefact = os.path.join(out, "artefact.pt")
        opts = ["TRAINER.NAME", "GRAM", "TRAINER.GRAM.ARTEFACT", artefact, "OPTIM.WARMUP_EPOCH", "0"]
    common = ["DATASET.ROOT", data_root, "OUTPUT_DIR", out, "DATASET.NUM_SHOTS", "2",
              "DATASET.SUBSAMPLE_CLASSES", "base", "TEST.NO_TEST", "True", "SEED", "1"]
    cfg = build_cfg(os.path.join(REPO, "configs", "datasets", "synthetic.yaml"), recipe,
                    [*common, *opts, *extra_opts])
    if case == "gram":
        make_artefact(cfg, artefact, RegulatorConfig(), perturb=0.5)  # seeded: the same file every time
    set_random_seed(1)
    trainer = build_trainer(cfg)
    trainer.batch_idx, trainer.num_batches, trainer.epoch = 0, 100, 0
    trainer.set_model_mode("train")
    return trainer


def _copy(tensors) -> dict[str, torch.Tensor]:
    return {n: t.detach().clone() for n, t in tensors}


def record(case: str, data_root: str, out: str, extra_opts: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """One iteration of ``case`` as a flat ``{key: tensor}``; see the module docstring."""
    trainer = build(case, data_root, out, extra_opts)
    rec: dict[str, torch.Tensor] = {}
    for name, module in trainer._models.items():
        for n, p in module.named_parameters():
            rec[f"init/{name}/{n}"] = p.detach().clone()

    steps = []
    model_update = trainer.model_update

    def recording_update(names=None):
        label = "step_a" if not steps else "step_b"
        steps.append(label)
        for name in trainer.get_model_names(names):
            for n, p in trainer._models[name].named_parameters():
                if p.grad is not None:
                    rec[f"{label}/grad/{name}/{n}"] = p.grad.detach().clone()
        before = {(name, n): p.detach().clone() for name in trainer.get_model_names(names)
                  for n, p in trainer._models[name].named_parameters()}
        model_update(names)
        for (name, n), old in before.items():
            new = trainer._models[name].get_parameter(n).detach()
            rec[f"{label}/after/{name}/{n}"] = new.clone()
            rec[f"{label}/update/{name}/{n}"] = new.double() - old.double()  # small steps, resolved

    trainer.model_update = recording_update
    calls = []
    if hasattr(trainer, "gate"):
        for name, mlp in trainer.gate.mlps.items():
            mlp.register_forward_hook(lambda m, args, out, name=name: calls.append((name, out.detach().clone())))
    torch.manual_seed(3)  # ProMetaR's episode and mixup draws
    summary = trainer.forward_backward(fixed_batch())
    for key, value in summary.items():
        rec[f"summary/{key}"] = torch.tensor(value, dtype=torch.float64)
    for i, (name, gamma) in enumerate(calls):
        rec[f"gamma/{i}/{name}"] = gamma
    if case == "gram":
        rec.update(gram_episode(trainer))
    return dict((f"{key}#sketch", sketch(t)) if t.numel() > SKETCH_ABOVE else (key, t) for key, t in rec.items())


# Tensors above this size (the ProMetaR gate's weights) are stored as a sketch: SKETCH_ROWS seeded
# Gaussian projections divided by sqrt(numel), then its RMS. Each projection is of the order of the
# tensor's RMS, and an error of d in every element moves it by about d, so comparing sketches with
# the elementwise tolerance scaled by the RMS checks the whole tensor; the file stays small.
SKETCH_ABOVE, SKETCH_ROWS = 4096, 64


def sketch(t: torch.Tensor) -> torch.Tensor:
    flat = t.detach().double().flatten()
    gen = torch.Generator().manual_seed(flat.numel())
    proj = torch.randn(SKETCH_ROWS, flat.numel(), generator=gen, dtype=torch.float64) @ flat / flat.numel() ** 0.5
    return torch.cat([proj, flat.pow(2).mean().sqrt().reshape(1)]).to(t.dtype if t.is_floating_point() else torch.float64)


def gram_episode(trainer) -> dict[str, torch.Tensor]:
    """One meta-training episode through the trainer's regulator: the functional inner step."""
    from metaprompt.meta.functional import double_backward_attention
    from metaprompt.meta.gram.objective import InnerLoop, episode_loss

    gen = torch.Generator().manual_seed(1)
    support = (torch.randn(4, 3, 32, 32, generator=gen), torch.tensor([0, 1, 2, 1]))
    query = (torch.randn(3, 3, 32, 32, generator=gen), torch.tensor([2, 0, 1]))
    regulator = trainer.regulator.requires_grad_(True)  # frozen in the trainer; meta-training trains it
    params = {n: p.detach().clone().requires_grad_(True) for n, p in trainer.model.prompt_learner.prompts.items()}
    rec = {}
    for order, first in (("first", True), ("second", False)):
        with double_backward_attention():
            loss, _ = episode_loss(trainer.model, params, regulator, support, query, InnerLoop(0.05, 2, first))
            grads = torch.autograd.grad(loss, [*params.values(), *regulator.parameters()])
        rec[f"episode/{order}/loss"] = loss.detach()
        names = [f"prompts/{n}" for n in params] + [f"regulator/{n}" for n, _ in regulator.named_parameters()]
        for name, g in zip(names, grads):
            rec[f"episode/{order}/grad/{name}"] = g
    return rec


def record_all(data_root: str) -> dict[str, dict[str, torch.Tensor]]:
    with tempfile.TemporaryDirectory() as out:
        return {case: record(case, data_root, os.path.join(out, case)) for case in CASES}


def deviations(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> list[tuple[float, str]]:
    """``max |got - want| / tolerance(key)`` per key, largest first (> 1: out of tolerance)."""
    out = []
    for key, w in want.items():
        g, w = got[key].double(), w.double()
        if g.shape != w.shape:
            out.append((float("inf"), f"{key} (shape {tuple(g.shape)}, recorded {tuple(w.shape)})"))
            continue
        out.append((((g - w).abs().max() / tolerance(key, want)).item(), key))
    return sorted(out, reverse=True)


def magnitude(key: str, t: torch.Tensor) -> torch.Tensor:
    """The tensor's largest absolute value (from a sketch: three times its RMS)."""
    t = t.double()
    return 3 * t[-1] if key.endswith("#sketch") else t.abs().max()


# fp32 tolerance of the replay, per tensor: RTOL times the tensor's largest absolute value, and
# for a parameter's update (after - before, both fp32) also 4 fp32 ulps of the parameter (the
# update is resolved only to the parameter's rounding). The replay runs the same operations in
# the same order, so on one machine and torch build it is bit for bit; the tolerance leaves room
# for another CPU's or BLAS's rounding, amplified by the second-order step's double backward.
RTOL = 1e-4
FP32_EPS = torch.finfo(torch.float32).eps


def tolerance(key: str, want: dict[str, torch.Tensor]) -> torch.Tensor:
    tol = RTOL * magnitude(key, want[key])
    if "/update/" in key:
        after = key.replace("/update/", "/after/")
        tol = tol + 4 * FP32_EPS * magnitude(after, want[after])
    return tol.clamp_min(1e-30)  # an all-zero recording must be matched exactly


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="overwrite the golden file (only on purpose)")
    args = parser.parse_args(argv)
    sys.path.insert(0, HERE)
    os.environ.setdefault("METAPROMPT_RUNTIME", "builtin")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as data_root:
        got = record_all(data_root)
    if args.write:
        os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
        torch.save(got, GOLDEN)
        print(f"wrote {GOLDEN} ({os.path.getsize(GOLDEN):,} bytes)")
        return 0
    want = torch.load(GOLDEN, weights_only=True)
    for case in CASES:
        worst = deviations(got[case], want[case])
        print(f"{case}: {len(want[case])} tensors; worst {worst[0][0]:.3g} x tolerance ({worst[0][1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
