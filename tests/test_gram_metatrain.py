"""GRAM meta-training end to end on CPU: artefact, bit-exact resume, feature cache reuse and invalidation."""
import csv
import os

import pytest
import torch

from metaprompt.meta.gram import features, load_artefact, synthetic_corpus
from metaprompt.meta.gram.metatrain import main

SMALL = ["TRAINER.GRAM.META.K1", "6", "TRAINER.GRAM.META.K2", "2", "TRAINER.GRAM.META.N_WAY", "3",
         "TRAINER.GRAM.META.TASKS_PER_STEP", "1", "TRAINER.GRAM.META.CHECKPOINT_EVERY", "2"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("gram") / "corpus")
    synthetic_corpus.generate(out, n_pairs=90, seed=0, shards=2)
    return os.path.join(out, "captions.csv")


def meta_train(repo, corpus, out, *opts, cfg="smoke", cache="", stop_after=None):
    argv = ["--corpus", corpus, "--config-file", os.path.join(repo, "configs/trainers/GRAM", f"{cfg}.yaml"),
            "--output-dir", str(out), "--seed", "3"]
    argv += ["--cache-dir", str(cache)] if cache else []
    argv += ["--stop-after", str(stop_after)] if stop_after else []
    return main(argv + SMALL + list(opts))


def assert_same_artefact(a, b):
    assert a.prompts.keys() == b.prompts.keys() and a.regulator_state.keys() == b.regulator_state.keys()
    for name in a.prompts:
        assert torch.equal(a.prompts[name], b.prompts[name]), name
    for name in a.regulator_state:
        assert torch.equal(a.regulator_state[name], b.regulator_state[name]), name


def test_interrupted_run_resumes_to_the_same_artefact_bit_exact(repo, corpus, tmp_path, capsys):
    """IVLP on the tar shards: episode images are read from the shards by byte range."""
    corpus = os.path.join(os.path.dirname(corpus), "shards")
    steps = ["TRAINER.GRAM.META.STEPS", "4"]
    assert meta_train(repo, corpus, tmp_path / "whole", *steps, cfg="smoke_ivlp", cache=tmp_path / "cache") == 0
    assert meta_train(repo, corpus, tmp_path / "split", *steps, cfg="smoke_ivlp", cache=tmp_path / "cache",
                      stop_after=3) == 0
    assert not (tmp_path / "split" / "artefact.pt").exists()
    assert meta_train(repo, corpus, tmp_path / "split", *steps, cfg="smoke_ivlp", cache=tmp_path / "cache") == 0
    assert "Resuming meta-training from step 3" in capsys.readouterr().out
    whole, split = load_artefact(str(tmp_path / "whole/artefact.pt")), load_artefact(str(tmp_path / "split/artefact.pt"))
    assert_same_artefact(whole, split)
    # What the artefact records.
    assert whole.base == "IVLP" and whole.backbone["name"] == "tiny-vit" and whole.meta["steps_done"] == 4
    assert set(whole.prompts) == {"text_ctx", "text_deep_1", "text_deep_2", "vision_ctx", "vision_deep_1",
                                  "vision_deep_2"}
    assert whole.learner_config["PROMPT_DEPTH_TEXT"] == 3 and whole.corpus["n_pairs"] == 90
    assert whole.regulator_config["kind"] == "gate"
    # Meta-training moved both theta and phi away from their initializations.
    assert any(v.abs().sum() > 0 for k, v in whole.regulator_state.items() if k.endswith("out.weight"))

    # The finished folder is reused; a different configuration is refused, nothing overwritten.
    assert meta_train(repo, corpus, tmp_path / "whole", *steps, cfg="smoke_ivlp", cache=tmp_path / "cache") == 0
    assert "nothing to do" in capsys.readouterr().out
    assert meta_train(repo, corpus, tmp_path / "split", *steps, "TRAINER.GRAM.META.INNER_LR", "0.5",
                      cfg="smoke_ivlp", cache=tmp_path / "cache") == 2
    assert "another configuration (differs in: meta)" in capsys.readouterr().err
    assert_same_artefact(split, load_artefact(str(tmp_path / "split/artefact.pt")))


def test_second_run_reuses_the_feature_cache_and_a_changed_corpus_invalidates_it(repo, corpus, tmp_path, monkeypatch,
                                                                                 capsys):
    steps = ["TRAINER.GRAM.META.STEPS", "2"]
    assert meta_train(repo, corpus, tmp_path / "a", *steps, cache=tmp_path / "cache") == 0

    def no_encoding(*args, **kwargs):
        raise AssertionError("the encoder was called although the cache is valid")

    monkeypatch.setattr(features, "encode_corpus", no_encoding)
    assert meta_train(repo, corpus, tmp_path / "b", *steps, cache=tmp_path / "cache") == 0
    assert "Using cached corpus features" in capsys.readouterr().out
    assert_same_artefact(load_artefact(str(tmp_path / "a/artefact.pt")), load_artefact(str(tmp_path / "b/artefact.pt")))

    # Change one caption: the fingerprint changes, the cache is recomputed (and the encoder runs).
    changed = tmp_path / "changed.csv"
    rows = list(csv.reader(open(corpus)))
    rows[5][1] = "a completely different caption"
    base = os.path.dirname(corpus)
    rows[1:] = [[os.path.join(base, r[0]), r[1]] for r in rows[1:]]
    csv.writer(open(changed, "w", newline="")).writerows(rows)
    calls = []
    monkeypatch.setattr(features, "encode_corpus", lambda *a, **k: calls.append(1) or real_encode(*a, **k))
    assert meta_train(repo, str(changed), tmp_path / "c", *steps, cache=tmp_path / "cache") == 0
    assert calls == [1]
    assert "computed for another fingerprint" in capsys.readouterr().out


real_encode = features.encode_corpus


def test_bad_settings_are_one_clear_error(repo, corpus, tmp_path, capsys):
    assert meta_train(repo, corpus, tmp_path / "x", "TRAINER.GRAM.META.N_WAY", "40", cache=tmp_path / "cache") == 2
    assert "N_WAY=40" in capsys.readouterr().err
    assert meta_train(repo, corpus, tmp_path / "y", "TRAINER.GRAM.REGULATOR.KIND", "nope",
                      cache=tmp_path / "cache") == 2
    assert "REGULATOR.KIND='nope'" in capsys.readouterr().err
