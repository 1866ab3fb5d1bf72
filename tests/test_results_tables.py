"""The results parser on fabricated run folders: means, population stds, HMs, flags, the average
rule, every output format and the figure."""
import csv
import io
import json
import os
import statistics
import subprocess
import sys

import pytest
from results_fixtures import write_log

from metaprompt.results import logparse
from metaprompt.results.catalog import (BASE2NEW_DATASETS, DG_TARGETS, PAPER_NAMES, TOY_DATASETS, XD_TARGETS,
                                        folder_name, paper_name)
from metaprompt.results.published import load_published
from metaprompt.results.tables import build_tables, main
from metaprompt.toyworld.tasks import TASKS

CFG = "vit_b16_c2_ep10_batch4_4+4ctx"


def b2n_run(root, phase, dataset, seed, trainer="ProMetaR", cfg=CFG):
    return os.path.join(root, "base2new", phase, dataset, "shots_16", trainer, cfg, f"seed{seed}")


def hm(b, n):
    return 2 * b * n / (b + n)


# eurosat complete over 3 seeds; dtd New: seed 1 finished, seed 2 crashed (log without result),
# seed 3 never ran (no folder).
EUROSAT_BASE, EUROSAT_NEW = [90.1, 91.3, 92.0], [70.2, 72.4, 71.0]
DTD_BASE, DTD_NEW_SEED1 = [80.0, 81.0, 82.5], 65.0


@pytest.fixture
def partial_root(tmp_path):
    root = str(tmp_path / "output")
    for seed, (b, n) in enumerate(zip(EUROSAT_BASE, EUROSAT_NEW), start=1):
        write_log(b2n_run(root, "train_base", "eurosat", seed), b)
        write_log(b2n_run(root, "test_new", "eurosat", seed), n)
    for seed, b in enumerate(DTD_BASE, start=1):
        write_log(b2n_run(root, "train_base", "dtd", seed), b)
    write_log(b2n_run(root, "test_new", "dtd", 1), DTD_NEW_SEED1)
    write_log(b2n_run(root, "test_new", "dtd", 2), None)  # crashed
    return root


# -- logparse ---------------------------------------------------------------------------------
def test_log_rules_rerun_sibling_and_validation_blocks(tmp_path):
    run = str(tmp_path / "run")
    write_log(run, None)
    assert not logparse.read_run(run).finished and logparse.read_run(run).started
    # A re-run into the same folder writes a time-stamped sibling (Dassl's rule); its result counts.
    write_log(run, 77.3, name="log.txt-2025-01-02-03-04-05")
    result = logparse.read_run(run)
    assert result.finished and result.accuracy == 77.3 and result.log.endswith("05")
    assert result.backbone == "ViT-B/16"
    # train.py refuses to run into it again (it used to read log.txt only, and re-ran such a folder forever).
    from metaprompt.cli.train import finished_run

    assert finished_run(run)
    # The newest finished log wins.
    write_log(run, 78.1, name="log.txt-2025-02-01-00-00-00")
    assert logparse.read_run(run).accuracy == 78.1
    # A result block after "Evaluate on the *val* set" is validation: the final test never ran.
    val_only = "Evaluate on the *val* set\n=> result\n* total: 10\n* correct: 9\n* accuracy: 90.0%\n"
    assert logparse.parse_log(val_only) is None
    assert logparse.parse_log(val_only + "Evaluate on the *test* set\n=> result\n* accuracy: 61.5%\n") == 61.5
    # The per-class block (TEST.PER_CLASS_RESULT) is not the result.
    per_class = "=> result\n* accuracy: 70.0%\n=> per-class result\n* class: 0 (a)\ttotal: 1\tcorrect: 1\tacc: 100.0%\n"
    assert logparse.parse_log(per_class) == 70.0


def test_logparse_runs_as_a_torch_free_script(tmp_path):
    """The shell scripts ask it whether a run is finished; it must not import the package (torch)."""
    script = logparse.__file__
    done, crashed = str(tmp_path / "done"), str(tmp_path / "crashed")
    write_log(done, 55.5)
    write_log(crashed, None)
    # -S -I: no site-packages and no project paths: it would fail if it imported numpy, torch or the package.
    def status(*args):
        return subprocess.run([sys.executable, "-S", "-I", script, *args], capture_output=True, text=True)

    assert status("finished", done).returncode == 0
    assert status("finished", crashed).returncode == 1
    assert status("finished", str(tmp_path / "absent")).returncode == 1
    assert status("accuracy", done).stdout.strip() == "55.50"
    assert status("bogus", done).returncode == 2


# -- base-to-new table ------------------------------------------------------------------------
def test_base2new_means_population_stds_hm_and_flags(partial_root):
    (table,) = build_tables(partial_root, "base2new")
    assert (table.trainer, table.cfg, table.shots, table.seeds) == ("ProMetaR", CFG, 16, (1, 2, 3))
    rows = {r.dataset: r for r in table.rows}
    assert [r.dataset for r in table.rows] == ["dtd", "eurosat", "average"]  # the papers' order

    base, new = rows["eurosat"].cells["Base"], rows["eurosat"].cells["New"]
    assert base.mean == pytest.approx(statistics.mean(EUROSAT_BASE))
    assert base.std == pytest.approx(statistics.pstdev(EUROSAT_BASE))  # population, as numpy.std
    assert base.std != pytest.approx(statistics.stdev(EUROSAT_BASE), abs=1e-3)
    assert new.mean == pytest.approx(statistics.mean(EUROSAT_NEW)) and base.complete and new.complete
    assert rows["eurosat"].cells["HM"].mean == pytest.approx(hm(statistics.mean(EUROSAT_BASE),
                                                                statistics.mean(EUROSAT_NEW)))

    dtd_new = rows["dtd"].cells["New"]
    assert dtd_new.values == {1: DTD_NEW_SEED1} and not dtd_new.complete and dtd_new.expected == 3
    assert not rows["dtd"].cells["HM"].complete
    kinds = {(p.dataset, p.column, p.seed): p.kind for p in table.problems}
    assert kinds == {("dtd", "New", 2): "unfinished", ("dtd", "New", 3): "missing"}
    missing = [p for p in table.problems if p.kind == "missing"][0]
    assert missing.path == b2n_run(partial_root, "test_new", "dtd", 3)

    average = rows["average"]
    assert all(c.mean is None and not c.complete for c in average.cells.values())
    assert "imagenet" in average.note and "incomplete dtd" in average.note
    # ProMetaR's published numbers sit beside it: the average row, and no per-dataset numbers for these two.
    assert average.published["ProMetaR"] == {"Base": 84.39, "New": 76.93, "HM": 80.49}
    assert rows["eurosat"].published["ProMetaR"] == {"Base": None, "New": None, "HM": None}


def test_each_output_format(partial_root, tmp_path, capsys):
    eurosat_b = f"{statistics.mean(EUROSAT_BASE):.2f} ± {statistics.pstdev(EUROSAT_BASE):.2f}"

    assert main([partial_root]) == 0
    text = capsys.readouterr().out
    assert eurosat_b in text and "65.00 ± 0.00 (1/3)" in text and "(partial)" in text
    assert "dtd New seed 2: unfinished" in text and "dtd New seed 3: missing" in text
    assert "population standard deviation" in text
    assert "80.49" in text  # the published ProMetaR average HM

    assert main([partial_root, "--format", "markdown", "--compare", "PromptSRC", "CoOp"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("### base2new: ProMetaR") and "**Missing or unfinished runs (not averaged):**" in md
    eurosat_line = next(line for line in md.splitlines() if line.startswith("| EuroSAT"))
    cells = [c.strip() for c in eurosat_line.strip("|").split("|")]
    ours_hm = hm(statistics.mean(EUROSAT_BASE), statistics.mean(EUROSAT_NEW))
    assert cells[:4] == ["EuroSAT", eurosat_b, f"{statistics.mean(EUROSAT_NEW):.2f} ± "
                         f"{statistics.pstdev(EUROSAT_NEW):.2f}", f"{ours_hm:.2f}"]
    assert cells[4:8] == ["92.90", "73.90", "82.32", f"{ours_hm - 82.32:+.2f}"]  # PromptSRC, EuroSAT

    assert main([partial_root, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    ours = {(r["dataset"], r["column"]): r for r in rows if r["source"] == "ours"}
    assert float(ours["eurosat", "Base"]["mean"]) == pytest.approx(statistics.mean(EUROSAT_BASE), abs=1e-4)
    assert float(ours["eurosat", "Base"]["std"]) == pytest.approx(statistics.pstdev(EUROSAT_BASE), abs=1e-4)
    assert ours["eurosat", "Base"]["per_seed"] == "1:90.1 2:91.3 3:92.0"
    assert (ours["dtd", "New"]["complete"], ours["dtd", "New"]["n_seeds"], ours["dtd", "New"]["missing_seeds"]) == \
        ("False", "1", "2 3")
    assert ours["average", "HM"]["mean"] == ""
    published = {(r["dataset"], r["column"]): r["mean"] for r in rows if r["source"] == "ProMetaR"}
    assert published["average", "HM"] == "80.49"

    out_file = tmp_path / "t.json"
    assert main([partial_root, "--format", "json", "--out", str(out_file)]) == 0
    data = json.loads(out_file.read_text())
    (t,) = data["tables"]
    assert t["complete"] is False and {p["kind"] for p in t["problems"]} == {"missing", "unfinished"}
    eurosat = next(r for r in t["rows"] if r["dataset"] == "eurosat")
    assert eurosat["cells"]["New"]["values"] == {"1": 70.2, "2": 72.4, "3": 71.0}


def test_figure_and_strict(partial_root, tmp_path, capsys):
    png = tmp_path / "fig" / "hm.png"
    assert main([partial_root, "--figure", str(png), "--strict"]) == 1  # strict: a run is missing
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(png).size[0] > 500


def test_no_runs_says_where_it_looked(tmp_path, capsys):
    assert main([str(tmp_path), "--trainer", "CoOp"]) == 1
    err = capsys.readouterr().err
    assert "no base2new runs found for trainer=CoOp" in err and "base2new/train_base/<dataset>" in err


# -- the average row: the protocol's rule, checked against the published numbers ---------------
def test_average_row_is_hm_of_averages_and_matches_published_coop(tmp_path):
    """CoOp's published per-dataset numbers, written as single-seed logs, give CoOp's published
    average row; the mean of per-dataset HMs would be 0.8 points lower."""
    root = str(tmp_path)
    coop = load_published()["CoOp"]
    for ds in BASE2NEW_DATASETS:
        for phase, col in (("train_base", "Base"), ("test_new", "New")):
            path = write_log(b2n_run(root, phase, ds, 1, "CoOp", "vit_b16_ep50"), 0.0)
            with open(path) as f:  # the parser reads any number of decimals; the published ones have two
                text = f.read().replace("* accuracy: 0.0%", f"* accuracy: {coop[ds][col]:.2f}%")
            with open(path, "w") as f:
                f.write(text)
    (table,) = build_tables(root, "base2new", seeds=(1,))
    average = table.rows[-1]
    assert [r.dataset for r in table.rows[:-1]] == list(BASE2NEW_DATASETS)
    for col in ("Base", "New", "HM"):
        assert average.cells[col].mean == pytest.approx(coop["average"][col], abs=0.01)
    mean_of_hms = statistics.mean(r.cells["HM"].mean for r in table.rows[:-1])
    assert average.cells["HM"].mean - mean_of_hms > 0.5
    assert average.note == "" and table.complete

    # One unfinished run anywhere and the average is not computed.
    write_log(b2n_run(root, "test_new", "ucf101", 1, "CoOp", "vit_b16_ep50"), None, name="log.txt")
    (table,) = build_tables(root, "base2new", seeds=(1,))
    assert table.rows[-1].cells["HM"].mean is None and "incomplete ucf101" in table.rows[-1].note


# -- cross-dataset, domain generalization, few-shot ---------------------------------------------
def test_xd_dg_and_fewshot_tables(tmp_path, capsys):
    root = str(tmp_path)

    def run(*parts, seed):
        return os.path.join(root, *parts, "IVLP", "r", f"seed{seed}")

    acc = {}
    for seed in (1, 2):
        write_log(run("xd", "train", "imagenet", "shots_16", seed=seed), 70.0 + seed)
        for i, ds in enumerate(XD_TARGETS + DG_TARGETS):
            acc[ds, seed] = 40.0 + i + seed / 10
            setting = "xd" if ds in XD_TARGETS else "dg"
            write_log(run(setting, "test", ds, "shots_16", seed=seed), acc[ds, seed])
    (xd,) = build_tables(root, "xd")
    assert xd.rows[0].label == "ImageNet (source)" and xd.rows[0].cells["Accuracy"].mean == pytest.approx(71.5)
    assert xd.rows[0].cells["Accuracy"].std == pytest.approx(0.5)
    expected = statistics.mean(statistics.mean([acc[ds, 1], acc[ds, 2]]) for ds in XD_TARGETS)
    assert xd.rows[-1].cells["Accuracy"].mean == pytest.approx(expected) and xd.complete
    (dg,) = build_tables(root, "dg")
    assert [r.dataset for r in dg.rows] == ["imagenet", *DG_TARGETS, "average"]
    assert dg.rows[-1].cells["Accuracy"].mean == pytest.approx(
        statistics.mean(statistics.mean([acc[ds, 1], acc[ds, 2]]) for ds in DG_TARGETS))

    for ds in ("eurosat", "dtd"):
        for k in (1, 4):
            for seed in (1, 2, 3):
                if (ds, k, seed) != ("dtd", 4, 3):
                    write_log(run("fewshot", ds, f"shots_{k}", seed=seed), 50.0 + k + seed)
    (fs,) = build_tables(root, "fewshot")
    assert fs.columns == ["1-shot", "4-shot"] and fs.shots is None
    rows = {r.dataset: r for r in fs.rows}
    assert rows["eurosat"].cells["4-shot"].mean == pytest.approx(56.0)
    assert rows["dtd"].cells["4-shot"].values == {1: 55.0, 2: 56.0} and not rows["dtd"].cells["4-shot"].complete
    assert [(p.dataset, p.column, p.seed, p.kind) for p in fs.problems] == [("dtd", "4-shot", 3, "missing")]
    assert rows["average"].cells["1-shot"].mean is None  # 2 of the 11 datasets

    assert main([root, "--setting", "fewshot", "--format", "markdown"]) == 0
    assert "dtd 4-shot seed 3: missing" in capsys.readouterr().out
    for setting in ("fewshot", "xd"):
        png = os.path.join(root, f"{setting}.png")
        assert main([root, "--setting", setting, "--figure", png, "--format", "csv"]) == 0
        assert open(png, "rb").read(4) == b"\x89PNG"


# -- shipped data and names -------------------------------------------------------------------
def test_published_csv_is_shipped_and_consistent():
    published = load_published()
    assert {"CLIP", "CoOp", "CoCoOp", "PromptSRC", "IVLP", "MaPLe", "ProMetaR"} <= set(published)
    assert published["ProMetaR"]["average"] == {"Base": 84.39, "New": 76.93, "HM": 80.49}
    assert published["ProMetaR"]["stanford_cars"] == {"Base": None, "New": None, "HM": 76.72}
    for method in ("CLIP", "CoOp", "CoCoOp", "PromptSRC"):
        assert set(published[method]) == {"average", *BASE2NEW_DATASETS}
    for method, rows in published.items():
        for ds, v in rows.items():
            if None not in v.values():  # the CSV's B and N are rounded to 2 decimals
                assert v["HM"] == pytest.approx(hm(v["Base"], v["New"]), abs=0.01), (method, ds)


def test_dataset_names_agree_with_scripts_and_configs(repo):
    out = subprocess.run(["bash", "-c", f'source {repo}/scripts/_common.sh; echo "$BASE2NEW_DATASETS"; '
                          'echo "$XD_SOURCE_DEFAULT $XD_TARGETS_DEFAULT"; echo "$DG_TARGETS_DEFAULT"; '
                          'echo "$TOY_DATASETS"'],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].split() == list(BASE2NEW_DATASETS)
    assert out[1].split() == ["imagenet", *XD_TARGETS]
    assert out[2].split() == list(DG_TARGETS)
    assert out[3].split() == list(TOY_DATASETS) == list(TASKS)
    for ds in set(BASE2NEW_DATASETS) | set(DG_TARGETS) | set(TOY_DATASETS):
        assert folder_name(paper_name(ds)) == ds
    # Where a dataset config exists, its registry name is the name the tables and the CSV use.
    configs = os.path.join(repo, "configs", "datasets")
    for name in os.listdir(configs):
        key = name[:-len(".yaml")]
        if key in PAPER_NAMES:
            with open(os.path.join(configs, name)) as f:
                assert f'NAME: "{PAPER_NAMES[key]}"' in f.read(), name
