"""GRAM in one command: the artefact is meta-trained on demand, reused by fingerprint, and named in
the run's output (the scripts' end-to-end run is in test_gram_scripts.py)."""
import os
import re
import subprocess

import pytest

from metaprompt.meta.gram import load_artefact, synthetic_corpus
from metaprompt.meta.gram.artefact import artefact_fingerprint
from metaprompt.meta.gram.ondemand import main

QUICK = ["TRAINER.GRAM.META.STEPS", "2", "TRAINER.GRAM.META.K1", "6", "TRAINER.GRAM.META.TASKS_PER_STEP", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ondemand_corpus")
    synthetic_corpus.generate(str(folder), n_pairs=90)
    return str(folder / "captions.csv")


def ondemand(capsys, repo, corpus, root, *opts):
    argv = ["--corpus", corpus, "--config-file", os.path.join(repo, "configs/trainers/GRAM/smoke.yaml"),
            "--output-root", str(root), "--name", "synthetic90/smoke", *QUICK, *opts]
    assert main(argv) == 0
    out = capsys.readouterr().out
    found = dict(re.findall(r"^(ARTEFACT|FINGERPRINT)=(.*)$", out, re.M))
    return out, found.get("ARTEFACT"), found.get("FINGERPRINT")


def test_meta_trains_once_reuses_by_fingerprint_and_retrains_for_another_config(capsys, repo, corpus, tmp_path):
    out, path, fp = ondemand(capsys, repo, corpus, tmp_path)
    assert "meta-training one into" in out and os.path.isfile(path)
    assert path == os.path.join(str(tmp_path), "synthetic90/smoke", f"seed1-{fp}", "artefact.pt")
    assert fp == artefact_fingerprint(load_artefact(path)) and re.fullmatch(r"[0-9a-f]{16}", fp)
    mtime = os.stat(path).st_mtime_ns

    # Same meta-training config (downstream-only keys differ): the same file, untouched.
    out, again, fp_again = ondemand(capsys, repo, corpus, tmp_path, "OPTIM.MAX_EPOCH", "1")
    assert f"GRAM: reusing the finished artefact {path}" in out and "meta-training one" not in out
    assert (again, fp_again) == (path, fp) and os.stat(path).st_mtime_ns == mtime

    # Another meta-training setting: another fingerprint, another artefact beside the first.
    out, other, fp_other = ondemand(capsys, repo, corpus, tmp_path, "TRAINER.GRAM.META.INNER_LR", "0.1")
    assert fp_other != fp and other != path and os.path.isfile(other) and os.path.isfile(path)

    # The wrapped method alone needs no artefact.
    out, none, _ = ondemand(capsys, repo, corpus, tmp_path, "TRAINER.GRAM.USE_INIT", "False",
                            "TRAINER.GRAM.USE_REGULATOR", "False")
    assert none is None and "no artefact needed" in out


def test_base2new_names_what_it_would_use_and_needs_a_corpus_for_real_recipes(repo, script_env):
    def base2new(*args, **env):
        return subprocess.run(["bash", os.path.join(repo, "scripts", "base2new.sh"), *args],
                              env={**script_env, "TRAINER": "GRAM", **env}, capture_output=True, text=True, timeout=120)

    dry = base2new("synthetic", "1", DRY_RUN="1")
    assert dry.returncode == 0, dry.stderr
    assert "Would find or meta-train the GRAM artefact of smoke" in dry.stdout

    real = base2new("synthetic", "1", CFG="vit_b16_coop")
    assert real.returncode == 2
    assert real.stderr.strip().splitlines() == [
        "error: TRAINER=GRAM with CFG=vit_b16_coop needs a meta-trained artefact: set CORPUS=/path/to/captions.csv "
        "(or a folder of .tar shards) to meta-train one now, or pass TRAINER.GRAM.ARTEFACT /path/to/artefact.pt "
        "(docs/gram.md)"]
    missing = base2new("synthetic", "1", CFG="vit_b16_coop", CORPUS="/nonexistent/captions.csv")
    assert missing.returncode == 2 and "CORPUS=/nonexistent/captions.csv does not exist" in missing.stderr
