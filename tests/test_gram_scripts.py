"""GRAM through the scripts, over every wrapped learner, on the embedded default.

For each learner: meta-train an artefact on the synthetic corpus with the learner's smoke recipe
(CoOp through scripts/gram_meta_train.sh, the others through the same entry point in-process, to
spare interpreter start-ups), then run scripts/base2new.sh and a few-shot run with it.
"""
import os
import re
import subprocess
import sys

import pytest

from metaprompt.meta.gram import load_artefact
from metaprompt.meta.gram.artefact import artefact_fingerprint

RECIPES = {"CoOp": "smoke", "VPT": "smoke_vpt", "IVLP": "smoke_ivlp", "MaPLe": "smoke_maple"}
QUICK = ["TRAINER.GRAM.META.STEPS", "3", "TRAINER.GRAM.META.K1", "6", "TRAINER.GRAM.META.TASKS_PER_STEP", "1"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("gram_scripts")
    e = dict(os.environ, OUTPUT=str(root / "output"), XDG_CACHE_HOME=str(root / "cache"), PYTHON=sys.executable,
             CORPUS_PAIRS="90", SHOTS="2")
    e.pop("DATA", None)
    e.pop("CORPUS", None)
    return e


def run(repo, env, script, *args, **extra):
    return subprocess.run(["bash", os.path.join(repo, "scripts", script), *args], env={**env, **extra},
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("base", list(RECIPES))
def test_gram_meta_train_then_base2new_and_few_shot(repo, env, base):
    cfg = RECIPES[base]
    if base == "CoOp":
        meta = run(repo, env, "gram_meta_train.sh", *QUICK, CFG=cfg)
        assert meta.returncode == 0, meta.stderr[-3000:]
        assert "not a benchmark" in meta.stdout
        artefact = re.search(r"^ARTEFACT=(.+)$", meta.stdout, re.M).group(1)
        assert os.path.isfile(artefact) and f"/{cfg}/seed1/" in artefact
    else:
        from metaprompt.meta.gram import synthetic_corpus
        from metaprompt.meta.gram.metatrain import main

        corpus = os.path.join(env["XDG_CACHE_HOME"], "corpus")
        if not os.path.isdir(corpus):
            synthetic_corpus.generate(corpus, n_pairs=90)
        out = os.path.join(env["OUTPUT"], "gram_meta", cfg)
        assert main(["--corpus", os.path.join(corpus, "captions.csv"), "--output-dir", out, "--config-file",
                     os.path.join(repo, "configs/trainers/GRAM", f"{cfg}.yaml"), *QUICK]) == 0
        artefact = os.path.join(out, "artefact.pt")

    # CoOp: one command, no artefact named: base2new.sh finds the one above by its fingerprint.
    named = QUICK if base == "CoOp" else ["TRAINER.GRAM.ARTEFACT", artefact]
    b2n = run(repo, env, "base2new.sh", "synthetic", "1", "OPTIM.MAX_EPOCH", "1", *named, TRAINER="GRAM", CFG=cfg)
    assert b2n.returncode == 0, b2n.stderr[-3000:]
    m = re.search(r"Base: ([\d.]+)  New: ([\d.]+)  HM: ([\d.]+)", b2n.stdout)
    assert m, b2n.stdout[-2000:]
    if base == "CoOp":
        assert f"GRAM: reusing the finished artefact {artefact}" in b2n.stdout
    fingerprint = artefact_fingerprint(load_artefact(artefact))
    assert f"GRAM artefact: {artefact} (fingerprint {fingerprint})" in b2n.stdout  # the results summary
    log = open(os.path.join(env["OUTPUT"], "base2new/train_base/synthetic/shots_2/GRAM", cfg, "seed1/log.txt")).read()
    assert f"GRAM wraps {base}" in log and "Loaded the meta-learned prompt initialization" in log
    assert f"GRAM artefact: {artefact} (fingerprint {fingerprint}, 3 meta-training steps" in log
    assert "GRAM: frozen gate regulator" in log

    # Few-shot run (all classes, 2 shots), in-process: what train.py does, without the log tee.
    import metaprompt  # noqa: F401
    from metaprompt.config import build_cfg
    from metaprompt.runtime import build_trainer, set_random_seed

    out = os.path.join(env["OUTPUT"], "fewshot", base)
    run_cfg = build_cfg(os.path.join(repo, "configs/datasets/synthetic.yaml"),
                        os.path.join(repo, "configs/trainers/GRAM", f"{cfg}.yaml"),
                        ["DATASET.NUM_SHOTS", "2", "OPTIM.MAX_EPOCH", "1", "TRAINER.GRAM.ARTEFACT", artefact],
                        {"DATASET.ROOT": os.path.join(env["XDG_CACHE_HOME"], "metaprompt/data"), "OUTPUT_DIR": out,
                         "SEED": 1, "TRAINER.NAME": "GRAM"})
    set_random_seed(1)
    trainer = build_trainer(run_cfg)
    assert trainer.dm.num_classes == 10 and len(trainer.dm.dataset.train_x) == 20
    trainer.train()
    assert os.path.isfile(os.path.join(out, "prompt_learner", "model.pth.tar-1"))
    assert 0.0 <= trainer.test() <= 100.0
