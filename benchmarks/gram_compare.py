"""GRAM against hand-initialised prompt tuning, measured side by side on one backbone and dataset.

For each seed, four variants of the same base-class run (the wrapped learner's own recipe):

* ``hand``      the wrapped method alone (its own prompt init, raw gradients);
* ``init``      GRAM's meta-learned prompt initialization, raw gradients;
* ``regulator`` hand init, gradients through GRAM's frozen regulator;
* ``gram``      both.

It prints, per variant (mean over seeds): optimizer steps until the base-class test accuracy first
reaches the target (default: the ``hand`` variant's mean final base accuracy), the final base
accuracy, the new-class accuracy of the final prompts, and their harmonic mean. The artefact is
meta-trained first (same backbone and prompt configuration) unless ``--artefact`` is given.

    python benchmarks/gram_compare.py                                  # embedded default (tiny CLIP)
    python benchmarks/gram_compare.py --backbone NAME --dataset NAME --data-root DIR --corpus CORPUS

On the embedded default the CLIP has random weights: whatever it shows says nothing about GRAM
on a real CLIP. Run it where the backbone has learned something.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {"hand": (False, False), "init": (True, False), "regulator": (False, True), "gram": (True, True)}
RECIPES = {"CoOp": "smoke", "VPT": "smoke_vpt", "IVLP": "smoke_ivlp", "MaPLe": "smoke_maple"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backbone", default="tiny-vit")
    p.add_argument("--dataset", default="synthetic", help="a configs/datasets/<name>.yaml")
    p.add_argument("--data-root", default="", help="dataset root (default: the embedded data cache)")
    p.add_argument("--base", default="CoOp", choices=list(RECIPES))
    p.add_argument("--recipe", default="", help="configs/trainers/GRAM/<recipe>.yaml (default: the base's smoke recipe)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--shots", type=int, default=16)
    p.add_argument("--epochs", type=int, default=0, help="downstream epochs (default: the recipe's)")
    p.add_argument("--eval-every", type=int, default=5, help="optimizer steps between base-accuracy evaluations")
    p.add_argument("--target-acc", type=float, default=None, help="base accuracy to reach (default: hand's final mean)")
    p.add_argument("--corpus", default="", help="meta-training corpus (default: a synthetic corpus of 600 pairs)")
    p.add_argument("--artefact", default="", help="use this artefact instead of meta-training one")
    p.add_argument("--meta-steps", type=int, default=200)
    p.add_argument("--out", default=os.path.join("output", "benchmarks", "gram_compare"))
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every run (and meta-training)")
    return p.parse_args(argv)


@contextlib.contextmanager
def quiet(log_path: str):
    """Send the trainers' chatter to a log file; the benchmark prints only its table."""
    with open(log_path, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield


def make_cfg(args, seed: int, output_dir: str, *opts: str):
    from metaprompt.clip import is_builtin_backbone, load_clip
    from metaprompt.config import build_cfg

    # Built-in backbones (tiny, toy world) set the input size; OpenAI ones take the recipe's.
    size = load_clip(args.backbone).visual.input_resolution if is_builtin_backbone(args.backbone) else None
    extra = ["MODEL.BACKBONE.NAME", args.backbone, "TRAINER.GRAM.BASE", args.base,
             "DATASET.NUM_SHOTS", str(args.shots)]
    if size is not None:
        extra += ["INPUT.SIZE", f"({size}, {size})"]
    if args.epochs:
        extra += ["OPTIM.MAX_EPOCH", str(args.epochs)]
    return build_cfg(os.path.join(REPO, "configs/datasets", f"{args.dataset}.yaml"),
                     os.path.join(REPO, "configs/trainers/GRAM", f"{args.recipe}.yaml"),
                     extra + list(args.opts) + list(opts),
                     {"DATASET.ROOT": args.data_root, "OUTPUT_DIR": output_dir, "SEED": seed, "TRAINER.NAME": "GRAM"})


@torch.no_grad()
def accuracy(trainer) -> float:
    """Test accuracy of the current prompts; leaves every random stream as it was."""
    with torch.random.fork_rng(devices=[]), trainer.model.cached_text_features():
        correct = total = 0
        for batch in trainer.test_loader:
            images, labels = trainer.parse_batch_test(batch)
            correct += (trainer.model_inference(images).argmax(1) == labels).sum().item()
            total += labels.numel()
    return 100.0 * correct / total


def run_variant(args, seed: int, variant: str, artefact: str) -> dict:
    from metaprompt.runtime import build_trainer, set_random_seed

    use_init, use_reg = VARIANTS[variant]
    out = os.path.join(args.out, "runs", f"{variant}_seed{seed}")
    flags = ["TRAINER.GRAM.USE_INIT", str(use_init), "TRAINER.GRAM.USE_REGULATOR", str(use_reg),
             "TRAINER.GRAM.ARTEFACT", artefact, "TRAIN.PRINT_FREQ", "1000000"]
    set_random_seed(seed)
    trainer = build_trainer(make_cfg(args, seed, out, "DATASET.SUBSAMPLE_CLASSES", "base", *flags))
    curve = [(0, accuracy(trainer))]
    step = 0
    forward_backward = trainer.forward_backward

    def counted(batch):
        nonlocal step
        result = forward_backward(batch)
        step += 1
        if step % args.eval_every == 0:
            curve.append((step, accuracy(trainer)))
        return result

    trainer.forward_backward = counted
    trainer.cfg.defrost()
    trainer.cfg.TEST.NO_TEST = True  # the curve's last point is the final base accuracy
    trainer.cfg.freeze()
    trainer.train()
    if curve[-1][0] != step:
        curve.append((step, accuracy(trainer)))
    new = build_trainer(make_cfg(args, seed, out + "_new", "DATASET.SUBSAMPLE_CLASSES", "new", *flags))
    new.model.prompt_learner.load_state_dict(trainer.model.prompt_learner.state_dict())
    return {"curve": curve, "base": curve[-1][1], "new": accuracy(new)}


def steps_to(curve, target: float) -> float:
    return next((s for s, acc in curve if acc >= target), math.inf)


def meta_train(args) -> tuple[str, float]:
    from metaprompt.meta.gram import synthetic_corpus
    from metaprompt.meta.gram.metatrain import MetaTrainer

    corpus = args.corpus
    if not corpus:
        folder = os.path.join(args.out, "corpus")
        if not os.path.isdir(folder):
            synthetic_corpus.generate(folder, n_pairs=600)
        corpus = os.path.join(folder, "captions.csv")
    cfg = make_cfg(args, args.seeds[0], "", "TRAINER.GRAM.META.STEPS", str(args.meta_steps))
    start = time.time()
    path = MetaTrainer(cfg, corpus, os.path.join(args.out, f"meta_{args.recipe}_{args.backbone}"),
                       seed=args.seeds[0]).run()
    return path, time.time() - start


def mean_std(xs) -> str:
    finite = [x for x in xs if math.isfinite(x)]
    if len(finite) < len(xs):
        return f"{statistics.mean(finite):.1f} ({len(finite)}/{len(xs)} reached)" if finite else "not reached"
    return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}" if len(xs) > 1 else f"{xs[0]:.1f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    args.recipe = args.recipe or RECIPES[args.base]
    if not args.data_root:
        args.data_root = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "metaprompt/data")
    os.makedirs(args.out, exist_ok=True)
    log = os.path.join(args.out, "log.txt")
    import metaprompt  # noqa: F401  (registers trainers and datasets)

    print(f"GRAM vs hand init: {args.base} ({args.recipe}) on {args.dataset}, backbone {args.backbone}, "
          f"{args.shots} shots, seeds {args.seeds}; details in {log}")
    artefact = args.artefact
    if not artefact:
        with quiet(log):
            artefact, seconds = meta_train(args)
        print(f"Meta-trained the artefact ({args.meta_steps} steps, {seconds:.0f} s): {artefact}")
    results = {v: [] for v in VARIANTS}
    for seed in args.seeds:
        for variant in VARIANTS:
            with quiet(log):
                results[variant].append(run_variant(args, seed, variant, artefact))
            r = results[variant][-1]
            print(f"  seed {seed} {variant:9s} base@0 {r['curve'][0][1]:5.1f}  base {r['base']:5.1f}  new {r['new']:5.1f}")
    target = args.target_acc if args.target_acc is not None else statistics.mean(r["base"] for r in results["hand"])
    rows = []
    for variant, runs in results.items():
        hm = [2 * r["base"] * r["new"] / (r["base"] + r["new"]) if r["base"] + r["new"] else 0.0 for r in runs]
        rows.append([variant, mean_std([steps_to(r["curve"], target) for r in runs]),
                     mean_std([r["curve"][0][1] for r in runs]), mean_std([r["base"] for r in runs]),
                     mean_std([r["new"] for r in runs]), mean_std(hm)])
    from tabulate import tabulate

    print(f"\nSteps to reach base accuracy {target:.1f}% (evaluated every {args.eval_every} steps); "
          f"accuracies in %, mean ± std over {len(args.seeds)} seeds")
    print(tabulate(rows, headers=["variant", "steps to target", "base @ step 0", "final base", "new", "HM"]))
    if args.backbone == "tiny-vit":
        print("\nNOTE: tiny-vit is a random-weight CLIP: these numbers test the pipeline and say nothing about "
              "GRAM on a real CLIP.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
