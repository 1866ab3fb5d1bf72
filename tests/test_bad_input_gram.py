"""Bad input for GRAM: artefacts, corpora and meta-training checkpoints; one clear line each.

Read the tables top to bottom: each row is a case, the input that makes it, and the fragments the
message must contain. Meta-training never writes a checkpoint or artefact of non-finite weights,
and an artefact that holds them (written before this check existed) is refused by name, both by
the sweep that would reuse it and by the downstream run.
"""
from __future__ import annotations

import math
import os
import shutil

import pytest
import torch
from runs import run_main, snapshot, train_argv
from test_cli_errors import assert_one_clear_error

from metaprompt.meta.gram import ArtefactError, load_artefact, synthetic_corpus
from metaprompt.meta.gram.metatrain import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAM_SMOKE = os.path.join(REPO, "configs", "trainers", "GRAM", "smoke.yaml")
SMALL = ["TRAINER.GRAM.META.K1", "6", "TRAINER.GRAM.META.K2", "2", "TRAINER.GRAM.META.N_WAY", "3",
         "TRAINER.GRAM.META.TASKS_PER_STEP", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("gram_bad") / "corpus")
    synthetic_corpus.generate(out, n_pairs=90, seed=0, shards=0)
    return os.path.join(out, "captions.csv")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gram_bad_cache")


def meta_train(corpus, out, cache, *opts, steps: int = 1) -> int:
    return main(["--corpus", str(corpus), "--config-file", GRAM_SMOKE, "--output-dir", str(out), "--cache-dir",
                 str(cache), *SMALL, "TRAINER.GRAM.META.STEPS", str(steps), *opts])


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """One intra-op thread (as conftest's ``one_thread``, for the whole module): a meta-training step is
    many small ops, which two spinning threads on a shared 2-core machine slow down several-fold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def finished(corpus, cache, tmp_path_factory):
    """A finished one-step meta-training folder: artefact.pt and checkpoint.pt."""
    out = tmp_path_factory.mktemp("gram_bad_run") / "meta"
    assert meta_train(corpus, out, cache) == 0
    return out


def one_error(capsys, rc, *needles) -> str:
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# -- artefacts ---------------------------------------------------------------------------------------
def edit_artefact(change):
    def mutate(path):
        raw = torch.load(path, weights_only=True)
        change(raw)
        torch.save(raw, path)  # bypasses save_artefact, as an older version or another tool might
    return mutate


def fill(part: str, value: float):
    def change(raw):
        name = sorted(raw[part])[0]
        raw[part][name] = torch.full_like(raw[part][name], value)
    return change


def truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


# case, mutation of a good artefact file, message fragments (the path is always named)
ARTEFACTS = [
    ("NaN prompts (a diverged meta-training)", edit_artefact(fill("prompts", math.nan)),
     ["holds non-finite values", "prompt text_ctx", "Delete it and meta-train again", "INNER_LR"]),
    ("inf regulator weights", edit_artefact(fill("regulator_state", math.inf)),
     ["holds non-finite values", "regulator nets."]),
    ("truncated file", truncate, ["is not a readable GRAM artefact", "meta-train it again"]),
    ("another torch file", lambda path: torch.save({"state_dict": {}}, path), ["is not a GRAM artefact"]),
    ("a field missing", edit_artefact(lambda raw: raw.pop("regulator_state")),
     ["is an incomplete GRAM artefact (no regulator_state)"]),
]


@pytest.mark.parametrize("case,mutate,needles", ARTEFACTS, ids=[row[0] for row in ARTEFACTS])
def test_bad_artefact_is_refused_by_name(finished, tmp_path, case, mutate, needles):
    path = str(tmp_path / "artefact.pt")
    shutil.copy(finished / "artefact.pt", path)
    mutate(path)
    with pytest.raises(ArtefactError) as e:
        load_artefact(path)
    for needle in needles + [path]:
        assert needle in str(e.value), str(e.value)


@pytest.fixture
def nan_artefact_folder(finished, tmp_path):
    """A finished folder whose artefact is all NaN (what meta-training wrote before it checked)."""
    out = tmp_path / "meta"
    shutil.copytree(finished, out)
    edit_artefact(lambda raw: [fill(part, math.nan)(raw) for part in ("prompts", "regulator_state")])(
        str(out / "artefact.pt"))
    return out


def test_sweep_does_not_reuse_a_nan_artefact_as_finished(corpus, cache, nan_artefact_folder, capsys):
    before = snapshot(nan_artefact_folder)
    one_error(capsys, meta_train(corpus, nan_artefact_folder, cache), f"{nan_artefact_folder}/artefact.pt",
              "holds non-finite values", "Delete it")
    assert snapshot(nan_artefact_folder) == before


def test_downstream_run_names_the_nan_artefact(synthetic_root, nan_artefact_folder, tmp_path, capsys):
    argv = train_argv(synthetic_root, tmp_path / "out", "TRAINER.GRAM.ARTEFACT", nan_artefact_folder / "artefact.pt",
                      "OPTIM.MAX_EPOCH", 1)
    argv[argv.index("--trainer") + 1] = "GRAM"
    argv[argv.index("--config-file") + 1] = GRAM_SMOKE
    assert_one_clear_error(capsys, run_main(argv), f"GRAM artefact {nan_artefact_folder}/artefact.pt",
                           "holds non-finite values")


# -- meta-training: diverging, bad settings, bad checkpoints, bad corpora -------------------------------
def poison_regulator_update(monkeypatch):
    """An update that leaves a regulator weight infinite while the loss was finite."""
    real_step = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        if self.param_groups[0]["lr"] == 0.001:  # the regulator's optimizer (META.REGULATOR_LR)
            self.param_groups[0]["params"][0].data.fill_(math.inf)
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", step)


def checkpoint_from(change=None):
    def setup(monkeypatch, out, finished):
        os.makedirs(out)
        shutil.copy(finished / "checkpoint.pt", out / "checkpoint.pt")
        if change:
            change(str(out / "checkpoint.pt"))
    return setup


def edit_checkpoint(path):
    state = torch.load(path, weights_only=True)
    state["prompts"] = {k: torch.full_like(v, math.nan) for k, v in state["prompts"].items()}
    torch.save(state, path)


def corpus_file(data: bytes):
    def setup(monkeypatch, out, finished):
        os.makedirs(out)
        (out / "corpus.csv").write_bytes(data)
        return out / "corpus.csv"
    return setup


NO_OUTPUT = "no checkpoint or artefact was written"
# case, overrides, setup(monkeypatch, output folder, finished run) -> corpus to use or None, message fragments
META_TRAINING = [
    ("NaN loss", ["TRAINER.GRAM.META.INNER_LR", "1e38"], None,
     ["diverged at step 1 of 2", "the loss of episode 1 is nan", "INNER_LR=1e+38", NO_OUTPUT]),
    ("Adam update beyond float32", ["TRAINER.GRAM.META.PROMPT_LR", "1e39"], None,
     ["diverged at step 1 of 2", "the Adam update overflows", "PROMPT_LR=1e+39", NO_OUTPUT]),
    ("regulator weight made inf by an update", [], lambda mp, out, finished: poison_regulator_update(mp),
     ["diverged at step 1 of 2", "the update made regulator nets.text_ctx.inp.weight non-finite", NO_OUTPUT]),
    ("infinite learning rate", ["TRAINER.GRAM.META.REGULATOR_LR", "1e400"], None,
     ["META.REGULATOR_LR=inf", "learning rates finite and >= 0"]),
    ("negative learning rate", ["TRAINER.GRAM.META.INNER_LR", "-0.5"], None, ["META.INNER_LR=-0.5"]),
    ("truncated checkpoint.pt", [], checkpoint_from(truncate),
     ["checkpoint.pt is corrupt", "Delete it to restart meta-training from step 0"]),
    ("checkpoint.pt that is not a checkpoint", [],
     checkpoint_from(lambda path: torch.save([1, 2], path)),
     ["checkpoint.pt is not a GRAM meta-training checkpoint", "Delete it"]),
    ("checkpoint.pt with NaN prompts", [], checkpoint_from(edit_checkpoint),
     ["checkpoint.pt holds non-finite values (in prompts.text_ctx)", "Delete it"]),
    ("binary corpus CSV", [], corpus_file(bytes(range(256)) * 4),
     ["corpus.csv is not a text CSV/TSV (UnicodeDecodeError", "image_path, caption"]),
    ("corpus CSV with NUL bytes", [], corpus_file(b"image_path,caption\n\x00\x00\x00,a\n"),
     ["corpus.csv holds NUL bytes"]),
]


@pytest.mark.parametrize("case,opts,setup,needles", META_TRAINING, ids=[row[0] for row in META_TRAINING])
def test_bad_meta_training_input_is_one_clear_line(corpus, cache, finished, monkeypatch, tmp_path, capsys,
                                                   case, opts, setup, needles):
    out = tmp_path / "meta"
    chosen = setup(monkeypatch, out, finished) if setup else None
    before = snapshot(out) if out.exists() else {}
    one_error(capsys, meta_train(chosen or corpus, out, cache, *opts, steps=2), *needles)
    assert (snapshot(out) if out.exists() else {}) == before  # nothing written, nothing changed


def test_divergence_after_a_checkpoint_keeps_that_checkpoint_finite(corpus, cache, tmp_path, capsys):
    out = tmp_path / "meta"
    rc = meta_train(corpus, out, cache, "TRAINER.GRAM.META.PROMPT_LR", "3e37", "TRAINER.GRAM.META.CHECKPOINT_EVERY", "1",
                    steps=3)  # step 1 moves the prompts to about 3e38; the loss of step 2 is NaN
    one_error(capsys, rc, "diverged at step 2 of 3", "the loss of episode 1 is nan",
              f"the checkpoint of step 1 ({out}/checkpoint.pt) is kept")
    assert sorted(os.listdir(out)) == ["checkpoint.pt"]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 1 and all(torch.isfinite(v).all() for v in state["prompts"].values())
