"""Bad input, area *config and arguments*: each row is one case, the input, and the fragment the one
``error:`` line must hold. Every case fails before training, with exit status 2 and no traceback.
(Unknown keys, names and unsupported values: tests/test_cli_errors.py.)"""
import pytest

import metaprompt.cli.train  # noqa: F401  (choose the runtime first)
from runs import assert_one_clear_error, run_main, train_argv

# case, arguments (replacing the usual value, or added; "{tmp}" is the test's folder), trailing KEY VALUE
# opts, the fragment of the one error line
CASES = [
    ("batch size 0", [], ["DATALOADER.TRAIN_X.BATCH_SIZE", "0"], "DATALOADER.TRAIN_X.BATCH_SIZE must be >= 1, got 0"),
    ("test batch size 0", [], ["DATALOADER.TEST.BATCH_SIZE", "0"], "DATALOADER.TEST.BATCH_SIZE must be >= 1"),
    ("negative learning rate", [], ["OPTIM.LR", "-0.1"], "OPTIM.LR must be >= 0, got -0.1"),
    ("negative gate learning rate", ["--trainer", "ProMetaR"], ["OPTIM_VNET.LR", "-1.0"], "OPTIM_VNET.LR must be >= 0"),
    ("MAX_EPOCH 0 (nothing trained, no checkpoint)", [], ["OPTIM.MAX_EPOCH", "0"], "OPTIM.MAX_EPOCH must be >= 1"),
    ("N_CTX 0 (one prompt tensor of 0 parameters)", [], ["TRAINER.COOP.N_CTX", "0", "TRAINER.COOP.CTX_INIT", ""],
     "built empty prompt tensors ['text_ctx']"),
    ("malformed YAML", ["--config-file", "{tmp}/broken.yaml"], [], "broken.yaml is not valid YAML (line 3, column 1)"),
    ("--eval-only without --model-dir (would score untrained prompts)", ["--eval-only"], [],
     "--eval-only needs --model-dir"),
    ("mistyped --resume path", ["--resume", "{tmp}/no-such-run"], [], 'no-such-run": no such folder'),
    ("--resume folder without checkpoints", ["--resume", "{tmp}"], [], "holds no checkpoint of ['prompt_learner']"),
]


def with_arguments(argv: list[str], args: list[str]) -> list[str]:
    """Replace the value of an argument the usual command has; add the others in front."""
    argv, args = list(argv), list(args)
    while args:
        flag = args.pop(0)
        value = [args.pop(0)] if args and not args[0].startswith("--") else []
        if flag in argv and value:
            argv[argv.index(flag) + 1] = value[0]
        else:
            argv[:0] = [flag, *value]
    return argv


@pytest.mark.parametrize("case,args,opts,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_config(capsys, synthetic_root, tmp_path, case, args, opts, fragment):
    (tmp_path / "broken.yaml").write_text("OPTIM:\n  LR: [0.1\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    argv = with_arguments(train_argv(synthetic_root, tmp_path / "out", *opts, epochs=1), args)
    assert_one_clear_error(capsys, run_main(argv), fragment)
