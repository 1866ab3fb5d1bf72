"""The held-out gate test's summary (metaprompt/results/gate_test.py) on fabricated runs; its script's input check."""
from __future__ import annotations

import json
import os
import subprocess

from results_fixtures import write_log

from metaprompt.results.gate_test import main, run_dir


def fabricate(root, name, trainer, seed, base, new, meta=None):
    for phase, acc in (("train_base", base), ("test_new", new)):
        write_log(run_dir(root, name, phase, trainer, "toy_textures", seed), acc, backbone="toy-vit")
    if meta is not None:
        path = os.path.join(run_dir(root, name, "train_base", trainer, "toy_textures", seed), "diagnostics.json")
        with open(path, "w") as f:
            json.dump({"per_epoch": [{"epoch": 10, "gate_grad_snr": 0.3, "gate_grad_snr_noise": 0.316}],
                       "final": {"heldout_gate_test": {"meta_loss": meta}}}, f)


def test_summary_pairs_the_arms_and_the_base_learner(tmp_path, capsys):
    root = str(tmp_path)
    for seed in (1, 2, 3):
        fabricate(root, "IVLP", "IVLP", seed, 80.0, 60.0)
        # the learned gate's loss is below the initial gate's by 0.1, 0.2, 0.3: too few seeds for a claim
        fabricate(root, "paper", "ProMetaR", seed, 80.0, 60.0 + seed,
                  {"learned": 1.0 - 0.1 * seed, "initial": 1.0, "gamma_0.5": 1.0 + 0.1 * seed})
    assert main([root, "--candidates", "paper", "token"]) == 0
    out = capsys.readouterr().out
    paper = next(line for line in out.splitlines() if line.startswith("| paper") and "Meta" not in line)
    cells = [c.strip() for c in paper.split("|")[1:-1]]
    # learned - initial: -0.1, -0.2, -0.3 -> mean -0.2, sd 0.1, half-width 4.302653 * 0.1 / sqrt(3) = 0.24841
    assert cells[5] == "-2.0e-01 ± 2.5e-01 [-4.5e-01, +4.8e-02] n.s." and cells[7] == "no"
    assert cells[6].startswith("-4.0e-01 ± 5.0e-01") and cells[6].endswith("n.s.")  # half-width 0.49683
    new_vs_ivlp = next(line for line in out.splitlines() if line.startswith("| paper") and "± 0.82" in line)
    assert "+2.00 ± 2.48 [-0.48, +4.48] n.s." in new_vs_ivlp
    assert "token seed 1, token seed 2, token seed 3" in out  # never run: listed, not averaged


def test_gate_test_script_rejects_an_unknown_candidate(repo, script_env):
    env = dict(script_env, CANDIDATES="paper nope")
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "gate_test.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.startswith("error: unknown candidate 'nope'; known: ")


def test_gate_test_script_rejects_a_recipe_ivlp_or_prometar_lacks(repo, script_env):
    env = dict(script_env, CFG="toy_l13")
    out = subprocess.run(["bash", os.path.join(repo, "scripts", "gate_test.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("error: no recipe configs/trainers/IVLP/toy_l13.yaml; CFG names a toy recipe")


def test_summary_reads_a_toy_table_output_with_recipes_as_candidates(tmp_path, capsys):
    root = str(tmp_path)
    for seed in (1, 2, 3):
        for phase, acc in (("train_base", 80.0), ("test_new", 60.0)):
            write_log(run_dir(root, "", phase, "IVLP", "toy_textures", seed, "toy_l12"), acc, backbone="toy-vit-l12")
            write_log(run_dir(root, "", phase, "ProMetaR", "toy_textures", seed, "toy_l12_reference"), acc - seed,
                      backbone="toy-vit-l12")
    assert main([root, "--toy-table", "--cfg", "toy_l12", "--candidates", "toy_l12_reference"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| toy_l12_reference") and "-2.00" in line)
    assert "[-4.48, +0.48] n.s." in row  # New -1, -2, -3 against IVLP: mean -2, half-width 2.48
