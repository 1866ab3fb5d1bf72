"""Summary of ``scripts/gate_test.sh``: does ProMetaR's gate learn from signal?

    python -m metaprompt.results.gate_test OUTPUT --dataset toy_textures --seeds 1 2 3 --candidates paper ...
    python -m metaprompt.results.gate_test OUTPUT --toy-table --cfg toy_l12 --candidates toy_l12 toy_l12_reference ...

Per candidate (a folder ``OUTPUT/<candidate>/`` of ProMetaR runs) and seed, it reads the run's
``diagnostics.json`` (metaprompt/meta/diagnostics.py) and its Base / New accuracies; IVLP's runs
(``OUTPUT/IVLP/``) are the base learner. With ``--toy-table`` it reads a ``scripts/toy_table.sh``
OUTPUT instead: each candidate is a ProMetaR recipe there, and IVLP's recipe is ``--cfg``. It prints, as mean ± std over seeds (population std) and
paired per-seed differences with 95% Student-t intervals (metaprompt/results/stats.py):

1. the held-out gate test: Step B's outer loss on training-data episodes with the learned gate,
   the gate at its initial weights and gamma = 0.5. A candidate *passes* when the learned gate's
   loss is below both others with intervals that exclude 0;
2. Base / New / HM, and New / HM against IVLP;
3. the last epoch's diagnostics (Step B / Step A update ratio, gate-gradient SNR and its noise
   level, the gate's drift from its initial weights).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from tabulate import tabulate

from .logparse import harmonic_mean, read_run
from .stats import paired_difference

ARMS = ("learned", "initial", "gamma_0.5")
LAST_EPOCH_KEYS = ("grad_ratio_b_over_a", "update_ratio_b_over_a", "gate_grad_snr", "gate_grad_snr_noise",
                   "gate_change", "gamma_text_mean", "gamma_vision_mean")


def run_dir(root: str, name: str, phase: str, trainer: str, dataset: str, seed: int, cfg: str = "toy") -> str:
    return os.path.join(root, name, "base2new", phase, dataset, "shots_16", trainer, cfg, f"seed{seed}")


def read_seed(root: str, name: str, trainer: str, dataset: str, seed: int, cfg: str = "toy") -> dict | None:
    """Accuracies (and the diagnostics, for ProMetaR) of one finished run; None if unfinished."""
    base = read_run(run_dir(root, name, "train_base", trainer, dataset, seed, cfg))
    new = read_run(run_dir(root, name, "test_new", trainer, dataset, seed, cfg))
    if not (base.finished and new.finished):
        return None
    out = {"Base": base.accuracy, "New": new.accuracy, "HM": harmonic_mean(base.accuracy, new.accuracy)}
    path = os.path.join(base.path, "diagnostics.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        test = record.get("final", {}).get("heldout_gate_test", {})
        for arm in ARMS:
            if arm in test.get("meta_loss", {}):
                out[f"meta_{arm}"] = test["meta_loss"][arm]
        if record.get("per_epoch"):
            last = record["per_epoch"][-1]
            out.update({k: last[k] for k in LAST_EPOCH_KEYS if k in last})
    return out


def mean_std(values: list[float], fmt: str = ".2f") -> str:
    if not values:
        return "—"
    return f"{np.mean(values):{fmt}} ± {np.std(values):{fmt}}"


def column(runs: dict[int, dict], key: str) -> dict[int, float]:
    return {s: r[key] for s, r in runs.items() if key in r}


def summary(root: str, dataset: str, seeds: list[int], candidates: list[str], cfg: str = "toy",
            toy_table: bool = False) -> str:
    def where(candidate: str) -> tuple[str, str]:  # (folder under root, recipe)
        return ("", candidate) if toy_table else (candidate, cfg)

    ivlp = {s: r for s in seeds if (r := read_seed(root, "" if toy_table else "IVLP", "IVLP", dataset, s, cfg))}
    runs = {c: {s: r for s in seeds if (r := read_seed(root, where(c)[0], "ProMetaR", dataset, s, where(c)[1]))}
            for c in candidates}
    out = [f"Held-out gate test on {dataset}, seeds {' '.join(map(str, seeds))} (mean ± population std over "
           "seeds; Δ: paired per-seed difference, mean ± 95% Student-t half-width [low, high])", ""]
    rows = []
    for c, r in runs.items():
        d_init = paired_difference(column(r, "meta_learned"), column(r, "meta_initial"))
        d_half = paired_difference(column(r, "meta_learned"), column(r, "meta_gamma_0.5"))
        passes = d_init.verdict == "loses" and d_half.verdict == "loses"  # learned lower than both
        rows.append([c, len(r)] + [mean_std(list(column(r, f"meta_{a}").values()), ".5f") for a in ARMS]
                    + [d_init.text(".1e"), d_half.text(".1e"), "yes" if passes else "no"])
    out += [tabulate(rows, ["Candidate", "Seeds", "Meta-loss learned", "initial gate", "gamma 0.5",
                            "Δ learned − initial", "Δ learned − 0.5", "Passes"], tablefmt="github",
                     disable_numparse=True), ""]
    rows = [["IVLP", len(ivlp)] + [mean_std(list(column(ivlp, k).values())) for k in ("Base", "New", "HM")] + ["", ""]]
    for c, r in runs.items():
        rows.append([c, len(r)] + [mean_std(list(column(r, k).values())) for k in ("Base", "New", "HM")]
                    + [paired_difference(column(r, k), column(ivlp, k)).text() for k in ("New", "HM")])
    out += [tabulate(rows, ["Method", "Seeds", "Base", "New", "HM", "Δ New vs IVLP", "Δ HM vs IVLP"],
                     tablefmt="github", disable_numparse=True), ""]
    rows = [[c, len(r)] + [mean_std(list(column(r, k).values()), ".3g") for k in LAST_EPOCH_KEYS]
            for c, r in runs.items()]
    out += ["Last epoch's diagnostics (mean ± std over seeds):", "",
            tabulate(rows, ["Candidate", "Seeds", "grad B/A", "update B/A", "gate grad SNR", "SNR of noise",
                            "gate drift", "gamma text", "gamma vision"], tablefmt="github", disable_numparse=True),
            ""]
    missing = [f"{c} seed {s}" for c in candidates for s in seeds if s not in runs[c]]
    missing += [f"IVLP seed {s}" for s in seeds if s not in ivlp]
    if missing:
        out += [f"Unfinished or missing runs (left out): {', '.join(missing)}", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m metaprompt.results.gate_test", description=__doc__.split("\n")[0])
    p.add_argument("root", help="the OUTPUT folder of scripts/gate_test.sh")
    p.add_argument("--dataset", default="toy_textures")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--candidates", nargs="+", default=["paper", "reference"])
    p.add_argument("--cfg", default="toy", help="the recipe the runs used (toy, toy_l12); with --toy-table, IVLP's")
    p.add_argument("--toy-table", action="store_true",
                   help="ROOT is a scripts/toy_table.sh OUTPUT and the candidates are ProMetaR recipes in it")
    args = p.parse_args(argv)
    if not os.path.isdir(args.root):
        print(f"error: {args.root} is not a folder (run scripts/gate_test.sh with OUTPUT={args.root} first)",
              file=sys.stderr)
        return 2
    sys.stdout.write(summary(args.root, args.dataset, args.seeds, args.candidates, args.cfg, args.toy_table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
