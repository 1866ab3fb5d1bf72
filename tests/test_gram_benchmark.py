"""benchmarks/gram_compare.py runs end to end and prints its table (tiny settings; not a measurement)."""
import importlib.util
import os


def test_gram_compare_prints_steps_and_accuracies_per_variant(repo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = importlib.util.spec_from_file_location("gram_compare", os.path.join(repo, "benchmarks", "gram_compare.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    corpus = tmp_path / "corpus"
    from metaprompt.meta.gram import synthetic_corpus

    synthetic_corpus.generate(str(corpus), n_pairs=90)
    assert bench.main(["--seeds", "1", "--shots", "1", "--epochs", "1", "--eval-every", "1", "--meta-steps", "2",
                       "--corpus", str(corpus / "captions.csv"), "--out", str(tmp_path / "out"),
                       "TRAINER.GRAM.META.K1", "6", "TRAINER.GRAM.META.TASKS_PER_STEP", "1"]) == 0
    out = capsys.readouterr().out
    for variant in ("hand", "init", "regulator", "gram"):
        assert f"seed 1 {variant}" in out
    assert "steps to target" in out and "random-weight CLIP" in out
    # 'hand' reaches its own final accuracy by definition.
    hand_row = next(line for line in out.splitlines() if line.startswith("hand "))
    assert "not reached" not in hand_row
