"""Bad input: one clear message that says what to do, exit status 2, no traceback, nothing lost."""
import importlib.util
import os
import shutil

import pytest

import metaprompt.cli.train  # noqa: F401  (choose the runtime before tests change METAPROMPT_RUNTIME)
from runs import REPO, SYNTHETIC_YAML, assert_one_clear_error, run_main, run_script, snapshot, train_argv

PETS_YAML = os.path.join(REPO, "configs", "datasets", "oxford_pets.yaml")


def with_dataset(argv, yaml):
    argv = list(argv)
    argv[argv.index(SYNTHETIC_YAML)] = yaml
    return argv


def test_no_data_root(capsys, tmp_path):
    rc = run_main(train_argv("", tmp_path / "out"))
    assert_one_clear_error(capsys, rc, "DATASET.ROOT is not set", "--root")


def test_data_root_that_does_not_exist(capsys, tmp_path):
    root = tmp_path / "no-such-root"
    rc = run_main(with_dataset(train_argv(root, tmp_path / "out"), PETS_YAML))
    assert_one_clear_error(capsys, rc, "Data root", f"not found: {root}", "oxford_pets/")


def test_missing_dataset_folder(capsys, tmp_path):
    rc = run_main(with_dataset(train_argv(tmp_path, tmp_path / "out"), PETS_YAML))
    assert_one_clear_error(capsys, rc, "OxfordPets: dataset folder not found", str(tmp_path / "oxford_pets"))


def test_missing_split_file_of_a_dataset_that_cannot_rebuild_it(capsys, tmp_path):
    os.makedirs(tmp_path / "synthetic" / "images")  # a synthetic folder that lost its split file
    rc = run_main(train_argv(tmp_path, tmp_path / "out"))
    assert_one_clear_error(capsys, rc, "Split file not found", "split_zhou_Synthetic.json", "delete its folder")


BAD_INPUT = [
    (["--trainer", "NoSuchTrainer"], ["Unknown trainer 'NoSuchTrainer'", "CoOp"]),
    (["DATASET.NAME", "NoSuchSet"], ["Unknown dataset 'NoSuchSet'", "OxfordPets"]),
    (["OPTIM.LRR", "0.1"], ["Unknown config key 'OPTIM.LRR' in command-line opts", "Did you mean OPTIM.LR"]),
    (["TRAINER.COOP.N_CTXX", "4"], ["'TRAINER.COOP.N_CTXX'", "TRAINER.COOP.N_CTX"]),
    (["OPTIM.LR"], ["KEY VALUE pairs"]),
    (["OPTIM.MAX_EPOCH", "many"], ["OPTIM.MAX_EPOCH", "many"]),
    (["TRAINER.COOP.PREC", "fp8"], ["TRAINER.COOP.PREC='fp8'", "fp32"]),
    (["OPTIM.NAME", "lion"], ["OPTIM.NAME='lion'", "sgd"]),
    (["OPTIM.LR_SCHEDULER", "poly"], ["OPTIM.LR_SCHEDULER='poly'", "cosine"]),
    (["DATASET.SUBSAMPLE_CLASSES", "half"], ["DATASET.SUBSAMPLE_CLASSES='half'", "base"]),
    (["INPUT.SIZE", "(224, 224)"], ["INPUT.SIZE", "tiny-vit expects (32, 32)"]),
    (["--config-file", "no/such.yaml"], ["Config file 'no/such.yaml' does not exist"]),
]


@pytest.mark.parametrize("opts,needles", BAD_INPUT, ids=[" ".join(opts) for opts, _ in BAD_INPUT])
def test_bad_names_keys_and_values(capsys, synthetic_root, tmp_path, opts, needles):
    if opts[0].startswith("--"):  # an argument: replace its value in the usual command
        argv = train_argv(synthetic_root, tmp_path / "out")
        argv[argv.index(opts[0]) + 1] = opts[1]
    else:  # trailing KEY VALUE opts
        argv = train_argv(synthetic_root, tmp_path / "out", *opts)
    assert_one_clear_error(capsys, run_main(argv), *needles)


def test_unknown_key_in_yaml_names_the_key_and_the_file(capsys, synthetic_root, tmp_path):
    yaml = tmp_path / "recipe.yaml"
    yaml.write_text("OPTIM:\n  MAX_EPOCHS: 3\n")
    argv = train_argv(synthetic_root, tmp_path / "out")
    argv[argv.index("--config-file") + 1] = str(yaml)
    assert_one_clear_error(capsys, run_main(argv), "Unknown config key 'OPTIM.MAX_EPOCHS'", str(yaml),
                           "Did you mean OPTIM.MAX_EPOCH")


def test_missing_model_for_eval_only(capsys, synthetic_root, tmp_path):
    argv = train_argv(synthetic_root, tmp_path / "eval", extra=["--eval-only", "--model-dir", tmp_path / "nothing",
                                                                "--load-epoch", 4])
    assert_one_clear_error(capsys, run_main(argv), "Model not found at", str(tmp_path / "nothing"))


def truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def test_corrupt_checkpoint_for_eval_only(capsys, synthetic_root, reference_run, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(reference_run / "prompt_learner", model_dir / "prompt_learner")
    truncate(model_dir / "prompt_learner" / "model.pth.tar-4")
    before = snapshot(model_dir)
    argv = train_argv(synthetic_root, tmp_path / "eval", extra=["--eval-only", "--model-dir", model_dir,
                                                                "--load-epoch", 4])
    assert_one_clear_error(capsys, run_main(argv), "model.pth.tar-4", "is corrupt")
    assert snapshot(model_dir) == before


def test_checkpoint_of_another_config_for_eval_only(capsys, synthetic_root, reference_run, tmp_path):
    argv = train_argv(synthetic_root, tmp_path / "eval", "TRAINER.COOP.CTX_INIT", "", "TRAINER.COOP.N_CTX", 8,
                      extra=["--eval-only", "--model-dir", reference_run, "--load-epoch", 4])
    assert_one_clear_error(capsys, run_main(argv), "does not fit this model", "size mismatch",
                           "trainer and config the model was trained with")


def test_corrupt_checkpoint_on_resume(capsys, synthetic_root, reference_run, tmp_path):
    out = tmp_path / "run"
    os.makedirs(out / "prompt_learner")
    shutil.copy(reference_run / "prompt_learner" / "model.pth.tar-4", out / "prompt_learner" / "model.pth.tar-2")
    (out / "prompt_learner" / "checkpoint").write_text("model.pth.tar-2\n")
    truncate(out / "prompt_learner" / "model.pth.tar-2")
    before = snapshot(out / "prompt_learner")
    assert_one_clear_error(capsys, run_main(train_argv(synthetic_root, out)), "model.pth.tar-2", "is corrupt",
                           "delete that file")
    assert snapshot(out / "prompt_learner") == before


def test_finished_run_is_never_overwritten(capsys, synthetic_root, reference_run):
    before = snapshot(reference_run)
    rc = run_main(train_argv(synthetic_root, reference_run))
    assert_one_clear_error(capsys, rc, "already holds a finished run", "Nothing was changed", "--output-dir")
    assert snapshot(reference_run) == before  # byte-for-byte, and no new file


def test_train_py_exit_status_and_finished_run_refusal(synthetic_root, reference_run):
    before = snapshot(reference_run)
    proc = run_script(train_argv(synthetic_root, reference_run))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("error: ") == 1
    assert snapshot(reference_run) == before


def test_missing_clip_weights_name_the_file_and_never_download(synthetic_root, tmp_path):
    cache = tmp_path / "clip-cache"
    cache.mkdir()
    env = dict(os.environ, CLIP_CACHE=str(cache), HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    argv = train_argv(synthetic_root, tmp_path / "out", "MODEL.BACKBONE.NAME", "ViT-B/16", "INPUT.SIZE", "(224, 224)")
    proc = run_script(argv, env=env, timeout=120)  # no hang: fails before any network access
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.count("error: ") == 1
    assert f"expected the file {cache / 'ViT-B-16.pt'}" in proc.stderr
    assert "never downloads" in proc.stderr
    assert os.listdir(cache) == []


def test_missing_image_is_reported_before_training(capsys, tmp_path):
    from metaprompt.datasets.synthetic import generate

    root = tmp_path / "data"
    generate(str(root / "synthetic"))
    os.remove(root / "synthetic" / "images" / "red_circle" / "039.png")  # a test image
    rc = run_main(train_argv(root, tmp_path / "out"))
    assert_one_clear_error(capsys, rc, "1 of the 200 images this run uses are missing", "red_circle/039.png",
                           "split_zhou_Synthetic.json")


@pytest.mark.parametrize("choice,needle", [
    ("dasl", "use 'auto', 'builtin' or 'dassl'"),
    pytest.param("dassl", "Dassl is not installed", marks=pytest.mark.skipif(
        importlib.util.find_spec("dassl") is not None, reason="Dassl is installed")),
])
def test_unusable_runtime(capsys, monkeypatch, synthetic_root, tmp_path, choice, needle):
    monkeypatch.setenv("METAPROMPT_RUNTIME", choice)
    assert_one_clear_error(capsys, run_main(train_argv(synthetic_root, tmp_path / "out")), needle)
    assert not os.path.exists(tmp_path / "out")


def test_runtime_cannot_change_within_a_process(capsys, monkeypatch, synthetic_root, tmp_path):
    from metaprompt.runtime import BACKEND

    other = "dassl" if BACKEND == "builtin" else "builtin"
    if other == "dassl" and importlib.util.find_spec("dassl") is None:
        pytest.skip("needs Dassl installed to ask for it")
    monkeypatch.setenv("METAPROMPT_RUNTIME", BACKEND)
    rc = run_main(train_argv(synthetic_root, tmp_path / "out", extra=["--runtime", other]))
    assert_one_clear_error(capsys, rc, f"already uses the {BACKEND} runtime", f"train.py --runtime {other}")


def test_train_py_runtime_flag_acts_before_the_runtime_is_imported(synthetic_root, tmp_path):
    # The environment asks for Dassl; the flag wins because train.py applies it before importing.
    env = dict(os.environ, METAPROMPT_RUNTIME="dassl")
    proc = run_script(train_argv(synthetic_root, tmp_path / "out", extra=["--runtime", "builtin", "--no-train"]),
                      env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Runtime: builtin" in proc.stdout

    env["METAPROMPT_RUNTIME"] = "dasl"
    proc = run_script(train_argv(synthetic_root, tmp_path / "out2"), env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("error: ") == 1 and "METAPROMPT_RUNTIME='dasl'" in proc.stderr
