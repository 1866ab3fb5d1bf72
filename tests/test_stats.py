"""Paired per-seed differences with a 95% Student-t interval, and where the results printers show them."""
from __future__ import annotations

import math
import os

import pytest
from results_fixtures import write_log

from metaprompt.results.stats import paired_difference, t_quantile_975
from metaprompt.results.tables import main


def test_t_quantiles_are_students():
    assert t_quantile_975(2) == pytest.approx(4.302653, abs=1e-6)
    assert t_quantile_975(4) == pytest.approx(2.776445, abs=1e-6)
    assert t_quantile_975(40) == pytest.approx(2.021075, abs=1e-5)  # the expansion beyond the table
    assert t_quantile_975(1000) == pytest.approx(1.962339, abs=1e-5)
    with pytest.raises(ValueError, match="at least 1 degree"):
        t_quantile_975(0)
    scipy_stats = pytest.importorskip("scipy.stats")
    for dof in (1, 3, 7, 30, 31, 60):
        assert t_quantile_975(dof) == pytest.approx(scipy_stats.t.ppf(0.975, dof), abs=1e-5)


def test_paired_difference_by_hand():
    # differences 1, 2, 3: mean 2, sample sd 1, half-width t(0.975, 2) / sqrt(3) = 2.484
    d = paired_difference({1: 11.0, 2: 12.0, 3: 13.0}, {1: 10.0, 2: 10.0, 3: 10.0})
    assert d.mean == pytest.approx(2.0) and d.half_width == pytest.approx(4.302653 / math.sqrt(3))
    assert d.half_width == pytest.approx(2.484, abs=1e-3)
    assert d.verdict == "n.s." and d.low < 0 < d.high  # [-0.48, 4.48] holds 0: no claim
    assert d.text() == "+2.00 ± 2.48 [-0.48, +4.48] n.s."
    # differences 3, 4, 5: same spread, interval [1.52, 6.48] excludes 0
    assert paired_difference({1: 13, 2: 14, 3: 15}, {1: 10, 2: 10, 3: 10}).verdict == "beats"
    assert paired_difference({1: 7, 2: 6, 3: 5}, {1: 10, 2: 10, 3: 10}).verdict == "loses"


def test_unequal_seeds_are_paired_over_the_common_ones_and_one_seed_has_no_interval():
    d = paired_difference({1: 5.0, 2: 6.0, 4: 9.0}, {1: 4.0, 2: 4.0, 3: 1.0})
    assert d.seeds == (1, 2) and d.only_a == (4,) and d.only_b == (3,)
    assert d.mean == pytest.approx(1.5) and d.half_width == pytest.approx(12.706205 * (math.sqrt(0.5) / math.sqrt(2)))
    one = paired_difference({1: 5.0, 2: 6.0}, {1: 4.0})
    assert one.mean == pytest.approx(1.0) and one.half_width is None and one.verdict == "no interval"
    assert "no interval" in one.text()
    assert paired_difference({1: 5.0}, {2: 4.0}).mean is None


def _run(root, phase, trainer, cfg, seed, acc, wraps=None):
    path = os.path.join(root, "base2new", phase, "toy_shapes", "shots_16", trainer, cfg, f"seed{seed}")
    log = write_log(path, acc, backbone="toy-vit")
    if wraps:
        with open(log, "a") as f:
            f.write(f"{trainer} wraps {wraps} (learner keys from TRAINER.X)\n")


def test_summary_pairs_each_meta_method_with_its_base_learner(tmp_path, capsys):
    root = str(tmp_path)
    for seed in (1, 2, 3):
        _run(root, "train_base", "IVLP", "toy", seed, 80.0)
        _run(root, "test_new", "IVLP", "toy", seed, 60.0)
        _run(root, "train_base", "ProMetaR", "toy", seed, 80.0, wraps="IVLP")
        _run(root, "test_new", "ProMetaR", "toy", seed, 60.0 + seed, wraps="IVLP")  # new +1, +2, +3
    for seed in (1, 2, 4):  # GRAM's seeds differ from CoOp's
        _run(root, "train_base", "GRAM", "toy", seed, 70.0, wraps="CoOp")
        _run(root, "test_new", "GRAM", "toy", seed, 50.0 - 2 * seed, wraps="CoOp")
    for seed in (1, 2, 3):
        _run(root, "train_base", "CoOp", "toy", seed, 70.0)
        _run(root, "test_new", "CoOp", "toy", seed, 50.0)
    assert main([root, "--datasets", "toy_shapes", "--format", "summary"]) == 0
    out = capsys.readouterr().out
    rows = {tuple(c.strip() for c in line.split("|")[1:3]): [c.strip() for c in line.split("|")[3:-1]]
            for line in out.split("Paired differences")[1].splitlines() if line.startswith("| ToyShapes")}
    new, hm, seeds = rows["ToyShapes", "ProMetaR − IVLP"]
    assert new == "+2.00 ± 2.48 [-0.48, +4.48] n.s." and seeds == "1 2 3"
    hm_diffs = [2 * 80 * (60 + s) / (140 + s) - 2 * 80 * 60 / 140 for s in (1, 2, 3)]  # each seed's own HM
    assert hm.startswith(f"{sum(hm_diffs) / 3:+.2f} ± ")
    new, _, seeds = rows["ToyShapes", "GRAM − CoOp"]
    assert seeds == "1 2" and new == "-3.00 ± 12.71 [-15.71, +9.71] n.s."  # diffs -2, -4: sd sqrt(2)
    assert "GRAM vs CoOp on ToyShapes: seed(s) 4 only in GRAM; seed(s) 3 only in CoOp: paired over the 2 " \
           "common seed(s) 1 2" in out
    assert "'beats'/'loses' only where the interval excludes 0" in out
    assert "Average" not in out.split("Paired differences")[1]  # one dataset: no average line to repeat it


def test_a_meta_method_without_its_base_runs_gets_one_line(tmp_path, capsys):
    root = str(tmp_path)
    for seed in (1, 2):
        _run(root, "train_base", "ProMetaR", "toy", seed, 80.0, wraps="IVLP")
        _run(root, "test_new", "ProMetaR", "toy", seed, 60.0, wraps="IVLP")
    assert main([root, "--datasets", "toy_shapes", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "ProMetaR (toy) wraps IVLP, but no IVLP runs are in this table" in out
