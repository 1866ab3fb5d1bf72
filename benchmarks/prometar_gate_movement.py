"""Does the gate learn? Paper vs reference mode, measured side by side in one run.

    python benchmarks/prometar_gate_movement.py [--epochs 10] [--shots 16] [--base IVLP]

Trains ProMetaR (the real trainer) on the embedded synthetic dataset with the tiny random CLIP
and the release's optimizer settings (prompts SGD 0.0025, gate SGD 2.5e-4, cosine, one warm-up
epoch), once per mode from the same seed. After every epoch it reports, for the gate:

* ``rel_change``: max over gate tensors of ||phi - phi_0|| / ||phi_0||;
* ``|dgamma|``: mean and max of |gamma(phi) - gamma(phi_0)| on the same inputs: Step A's
  gradients of a fixed batch at the current prompts, through the trained gate and through a
  frozen copy of the initial gate. This isolates what the gate learned from how the gradients
  themselves changed.

A random-weight CLIP has other gradient scales than a pretrained one: the numbers show the
regimes (frozen vs learning), not the values a real run will have.
"""
from __future__ import annotations

import argparse
import copy
import os
import tempfile

os.environ.setdefault("METAPROMPT_RUNTIME", "builtin")

import torch  # noqa: E402

import metaprompt  # noqa: E402,F401
from metaprompt.config import build_cfg  # noqa: E402
from metaprompt.runtime import build_trainer, set_random_seed  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def step_a_gradients(trainer, batch):
    method = trainer.method
    images, labels = batch["img"], batch["label"]
    params = method.prompts()
    losses = method.losses(images, labels, params)
    g_reg = method.regularizer_gradients(losses.reg, params)
    g_ce = dict(zip(params, torch.autograd.grad(losses.ce, list(params.values()))))
    return g_ce, g_reg


def gate_report(trainer, initial_gate, batch) -> str:
    g_ce, g_reg = step_a_gradients(trainer, batch)
    with torch.no_grad():
        now, then = trainer.gate.gammas(g_ce, g_reg), initial_gate.gammas(g_ce, g_reg)
        diff = torch.cat([(now[n] - then[n]).abs().flatten() for n in now])
        gamma = torch.cat([now[n].flatten() for n in now])
        start = dict(initial_gate.named_parameters())
        rel = max(((p - start[n]).norm() / start[n].norm()).item() for n, p in trainer.gate.named_parameters())
    return (f"rel_change {rel:.3e}  |dgamma| mean {diff.mean():.3e} max {diff.max():.3e}  "
            f"gamma mean {gamma.mean():.4f} std {gamma.std():.4f} min {gamma.min():.4f} max {gamma.max():.4f}")


def run(mode: str, args, data_root: str, out_root: str) -> list[str]:
    set_random_seed(1)
    cfg = build_cfg(os.path.join(REPO, "configs/datasets/synthetic.yaml"),
                    os.path.join(REPO, "configs/trainers/ProMetaR/smoke.yaml"),
                    ["TRAINER.NAME", "ProMetaR", "DATASET.ROOT", data_root, "OUTPUT_DIR", os.path.join(out_root, mode),
                     "DATASET.NUM_SHOTS", str(args.shots), "DATASET.SUBSAMPLE_CLASSES", "base", "SEED", "1",
                     "TEST.NO_TEST", "True", "TRAIN.PRINT_FREQ", "1000", "TRAINER.PROMETAR.MODE", mode,
                     "TRAINER.PROMETAR.BASE", args.base, "OPTIM.LR", "0.0025", "OPTIM.MAX_EPOCH", str(args.epochs),
                     "OPTIM_VNET.LR", "0.00025", "OPTIM_VNET.MAX_EPOCH", str(args.epochs)])
    trainer = build_trainer(cfg)
    initial_gate = copy.deepcopy(trainer.gate)
    gen = torch.Generator().manual_seed(0)
    batch = {"img": torch.randn(4, 3, 32, 32, generator=gen), "label": torch.tensor([0, 1, 2, 3])}
    lines = []
    after_epoch = trainer.after_epoch

    def report_after_epoch():
        after_epoch()
        lr = trainer.optim_gate.param_groups[0]["lr"]
        report = gate_report(trainer, initial_gate, batch)
        lines.append(f"{mode:<9} epoch {trainer.epoch + 1:>2}  next gate lr {lr:.2e}  {report}")

    trainer.after_epoch = report_after_epoch
    trainer.train()
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--shots", type=int, default=16)
    p.add_argument("--base", default="IVLP", choices=("IVLP", "CoOp", "VPT", "MaPLe"))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_root = os.path.join(tmp, "data")
        results = {mode: run(mode, args, data_root, tmp) for mode in ("reference", "paper")}
    print(f"\nGate movement, tiny random CLIP, synthetic, {args.shots} shots, {args.epochs} epochs, base {args.base}")
    for mode, lines in results.items():
        print("\n".join(lines))


if __name__ == "__main__":
    main()
