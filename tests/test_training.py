"""Checkpoints, resume, determinism and precision of the training loop (built-in runtime, CPU)."""
import os
import warnings

import pytest
import torch

from runs import checkpoint, read_logs, run_main, train_argv, training_lines


def build_trainer_for(root, out, *opts, seed=1):
    from metaprompt.cli.train import args_to_overrides, build_parser
    from metaprompt.config import build_cfg
    from metaprompt.runtime import build_trainer, set_random_seed

    args = build_parser().parse_args(train_argv(root, out, *opts, seed=seed))
    cfg = build_cfg(args.dataset_config_file, args.config_file, args.opts, args_to_overrides(args))
    set_random_seed(seed)
    return build_trainer(cfg)


def test_checkpoint_round_trip_restores_identical_predictions(synthetic_root, tmp_path):
    out = tmp_path / "run"
    trained = build_trainer_for(synthetic_root, out, "OPTIM.MAX_EPOCH", 1, "TEST.NO_TEST", True)
    trained.train()

    # Layout: <run>/prompt_learner/model.pth.tar-1 and a pointer; only the prompts are stored.
    ckpt = checkpoint(out, 1)  # loads with weights_only=True
    assert sorted(ckpt["state_dict"]) == ["prompts.text_ctx"]
    assert ckpt["epoch"] == 1
    with open(out / "prompt_learner" / "checkpoint") as f:
        assert f.read().strip() == "model.pth.tar-1"

    fresh = build_trainer_for(synthetic_root, tmp_path / "other", "OPTIM.MAX_EPOCH", 1, seed=7)
    images = next(iter(trained.test_loader))["img"][:16]
    trained.set_model_mode("eval")
    fresh.set_model_mode("eval")
    with torch.no_grad():
        expected = trained.model_inference(images)
        assert not torch.equal(fresh.model_inference(images), expected)  # a different init predicts otherwise
        fresh.load_model(str(out), epoch=1)
        assert torch.equal(fresh.model_inference(images), expected)
    assert torch.equal(fresh.model.prompt_learner.prompts["text_ctx"], trained.model.prompt_learner.prompts["text_ctx"])


def test_same_seed_gives_identical_runs(synthetic_root, reference_run, tmp_path):
    again = tmp_path / "again"
    assert run_main(train_argv(synthetic_root, again)) == 0
    assert torch.equal(checkpoint(again, 4)["state_dict"]["prompts.text_ctx"],
                       checkpoint(reference_run, 4)["state_dict"]["prompts.text_ctx"])
    lines = training_lines(read_logs(again))
    assert any("* accuracy:" in line for line in lines)
    assert lines == training_lines(read_logs(reference_run))  # every loss, accuracy and lr printed

    other_seed = tmp_path / "seed2"
    assert run_main(train_argv(synthetic_root, other_seed, seed=2, epochs=1)) == 0
    assert not torch.equal(checkpoint(other_seed, 1)["state_dict"]["prompts.text_ctx"],
                           checkpoint(reference_run, 4)["state_dict"]["prompts.text_ctx"])


class Interrupted(Exception):
    pass


def interrupt_after_epoch_2(monkeypatch, argv):
    from metaprompt.trainers.base import PromptTrainer

    after_epoch = PromptTrainer.after_epoch

    def crash_after_epoch_2(self):
        after_epoch(self)
        if self.epoch + 1 == 2:
            raise Interrupted("injected after epoch 2")

    monkeypatch.setattr(PromptTrainer, "after_epoch", crash_after_epoch_2)
    with pytest.raises(Interrupted):
        run_main(argv)
    monkeypatch.undo()


@pytest.mark.parametrize("resume_flag", [False, True], ids=["rerun", "--resume"])
def test_resume_after_interruption_reaches_the_uninterrupted_result(synthetic_root, reference_run, tmp_path,
                                                                    monkeypatch, resume_flag):
    out = tmp_path / "run"
    argv = train_argv(synthetic_root, out, extra=["--resume", out] if resume_flag else [])

    interrupt_after_epoch_2(monkeypatch, argv)
    assert sorted(os.listdir(out / "prompt_learner")) == ["checkpoint", "model.pth.tar-2"]

    assert run_main(argv) == 0
    resumed_log = read_logs(out).split("Found checkpoint at")[-1]
    assert "Previous epoch: 2" in resumed_log
    assert "epoch [3/4]" in resumed_log and "epoch [2/4]" not in resumed_log
    # Bit-for-bit the uninterrupted run: prompts, optimizer state, printed losses and accuracy.
    final, ref = checkpoint(out, 4), checkpoint(reference_run, 4)
    assert torch.equal(final["state_dict"]["prompts.text_ctx"], ref["state_dict"]["prompts.text_ctx"])
    momentum = [c["optimizer"]["state"][0]["momentum_buffer"] for c in (final, ref)]
    assert torch.equal(*momentum)
    ref_lines = training_lines(read_logs(reference_run))
    assert training_lines(read_logs(out)) == ref_lines
    # The rolling checkpoints are gone; the run looks like an uninterrupted one.
    assert sorted(os.listdir(out / "prompt_learner")) == ["checkpoint", "model.pth.tar-4"]
    assert sorted(os.listdir(reference_run / "prompt_learner")) == ["checkpoint", "model.pth.tar-4"]


def test_resume_keeps_the_best_val_model_of_the_uninterrupted_run(synthetic_root, tmp_path, monkeypatch):
    opts = ("TEST.FINAL_MODEL", "best_val")
    full, out = tmp_path / "full", tmp_path / "run"
    assert run_main(train_argv(synthetic_root, full, *opts)) == 0
    interrupt_after_epoch_2(monkeypatch, train_argv(synthetic_root, out, *opts))
    assert run_main(train_argv(synthetic_root, out, *opts)) == 0

    best, ref = (torch.load(d / "prompt_learner" / "model-best.pth.tar", weights_only=True) for d in (out, full))
    assert (best["epoch"], best["val_result"]) == (ref["epoch"], ref["val_result"])
    assert torch.equal(best["state_dict"]["prompts.text_ctx"], ref["state_dict"]["prompts.text_ctx"])
    assert training_lines(read_logs(out)) == training_lines(read_logs(full))


def test_checkpoint_freq_checkpoints_are_kept(synthetic_root, tmp_path):
    out = tmp_path / "run"
    assert run_main(train_argv(synthetic_root, out, "TRAIN.CHECKPOINT_FREQ", 2, "TEST.NO_TEST", True,
                               epochs=3)) == 0
    assert sorted(os.listdir(out / "prompt_learner")) == ["checkpoint", "model.pth.tar-2", "model.pth.tar-3"]


def test_fp16_on_cpu_falls_back_to_fp32_with_a_warning(synthetic_root, tmp_path, capsys):
    with pytest.warns(UserWarning, match="fp32"):
        trainer = build_trainer_for(synthetic_root, tmp_path / "run", "TRAINER.COOP.PREC", "fp16")
    # printed as well, so the logger's stdout tee puts the note in log.txt next to "PREC: fp16"
    assert "TRAINER.COOP.PREC fp16 on cpu: running in fp32" in capsys.readouterr().out
    assert trainer.prec == "fp32"
    assert trainer.model.dtype == torch.float32
    assert trainer.model.prompt_learner.prompts["text_ctx"].dtype == torch.float32


def test_amp_on_cpu_trains_under_bf16_autocast_with_fp32_prompts(synthetic_root, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # amp needs no warning on CPU
        trainer = build_trainer_for(synthetic_root, tmp_path / "run", "TRAINER.COOP.PREC", "amp",
                                    "OPTIM.MAX_EPOCH", 1, "TEST.NO_TEST", True)
    assert trainer.prec == "bf16" and trainer.scaler is None
    seen = []
    c_fc = trainer.model.image_encoder.visual.transformer.resblocks[0].mlp.c_fc  # a frozen nn.Linear
    c_fc.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    before = trainer.model.prompt_learner.prompts["text_ctx"].detach().clone()
    trainer.train()
    ctx = trainer.model.prompt_learner.prompts["text_ctx"]
    assert ctx.dtype == torch.float32 and ctx.grad.dtype == torch.float32
    assert torch.isfinite(ctx).all() and not torch.equal(ctx, before)
    assert seen and set(seen) == {torch.bfloat16}  # the frozen encoders ran in bf16
