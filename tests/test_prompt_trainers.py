"""The trainers on the tiny CLIP: a training step moves only prompt tensors, evaluation encodes
the class texts once, and ZeroshotCLIP trains nothing."""
from __future__ import annotations

import os

import pytest
import torch

import metaprompt  # noqa: F401  (registers trainers, datasets, backbones)
from metaprompt.config import ConfigError, build_cfg
from metaprompt.runtime import build_trainer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))  # the synthetic dataset writes itself here once


def make_trainer(trainer: str, data_root: str, output_dir: str, *opts: str):
    cfg = build_cfg(os.path.join(REPO, "configs/datasets/synthetic.yaml"),
                    os.path.join(REPO, f"configs/trainers/{trainer}/smoke.yaml"),
                    ["DATASET.NUM_SHOTS", "4", "DATASET.SUBSAMPLE_CLASSES", "base", "DATALOADER.TEST.BATCH_SIZE", "16",
                     *opts],
                    {"DATASET.ROOT": data_root, "OUTPUT_DIR": output_dir, "TRAINER.NAME": trainer, "SEED": 1})
    return build_trainer(cfg)


@pytest.mark.parametrize("trainer_name", ["CoOp", "VPT", "IVLP", "MaPLe"])
def test_a_training_step_moves_only_prompt_tensors(trainer_name, data_root, tmp_path):
    trainer = make_trainer(trainer_name, data_root, str(tmp_path))
    model, learner = trainer.model, trainer.model.prompt_learner
    prompt_ids = {id(p) for p in learner.parameters()}
    frozen = {n: p for n, p in model.named_parameters() if id(p) not in prompt_ids}
    assert frozen and all(not p.requires_grad for p in frozen.values())
    before_frozen = {n: p.detach().clone() for n, p in frozen.items()}
    before_prompts = {n: p.detach().clone() for n, p in learner.prompts.items()}

    trainer.set_model_mode("train")
    trainer.num_batches, trainer.batch_idx = 2, 0
    trainer.forward_backward(next(iter(trainer.train_loader_x)))

    for n, p in frozen.items():
        assert p.grad is None, f"frozen CLIP weight {n} received a gradient"
        assert torch.equal(p, before_frozen[n]), f"frozen CLIP weight {n} changed"
    for n, p in learner.prompts.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"prompt tensor {n} got no gradient"
        assert not torch.equal(p, before_prompts[n]), f"prompt tensor {n} did not move"


class CallCounter:
    def __init__(self, module) -> None:
        self.calls = 0
        self._handle = module.register_forward_hook(self._count)

    def _count(self, *args) -> None:
        self.calls += 1

    def remove(self) -> None:
        self._handle.remove()


@pytest.mark.parametrize("trainer_name", ["CoOp", "IVLP", "MaPLe"])
def test_evaluation_encodes_the_class_texts_once(trainer_name, data_root, tmp_path):
    trainer = make_trainer(trainer_name, data_root, str(tmp_path))
    n_batches = len(trainer.test_loader)
    assert n_batches >= 3

    counter = CallCounter(trainer.model.text_encoder)
    try:
        trainer.test()
        assert counter.calls == 1, f"text encoder ran {counter.calls} times in one evaluation of {n_batches} batches"
        # The counter does see per-batch encoding when the cache is not used (the release's way).
        counter.calls = 0
        with torch.no_grad():
            for batch in trainer.test_loader:
                trainer.model_inference(batch["img"])
        assert counter.calls == n_batches
    finally:
        counter.remove()


def test_text_without_prompts_is_encoded_once_for_training_and_evaluation(data_root, tmp_path):
    """VPT's text side is constant (hand-crafted prompt), as in the release: encoded once."""
    trainer = make_trainer("VPT", data_root, str(tmp_path))
    counter = CallCounter(trainer.model.text_encoder)
    try:
        trainer.num_batches, trainer.batch_idx = 2, 0
        for _, batch in zip(range(2), trainer.train_loader_x):
            trainer.forward_backward(batch)
        trainer.test()
        trainer.test()
        assert counter.calls == 1
    finally:
        counter.remove()


def test_zeroshot_clip_trains_nothing_and_evaluates(data_root, tmp_path, capsys):
    trainer = make_trainer("ZeroshotCLIP", data_root, str(tmp_path))
    assert len(trainer.model.prompt_learner.prompts) == 0
    trainer.train()
    out = capsys.readouterr().out
    assert "training is skipped (0 epochs)" in out
    assert "* accuracy:" in out
    assert not os.path.exists(os.path.join(str(tmp_path), "prompt_learner"))  # no checkpoint
    trainer.load_model(str(tmp_path), epoch=1)  # nothing to load: not an error
    assert "nothing to load" in capsys.readouterr().out


def test_zeroshot_template_can_be_coops_per_dataset_one(data_root, tmp_path, capsys):
    make_trainer("ZeroshotCLIP", data_root, str(tmp_path), "TRAINER.ZSCLIP.TEMPLATE", "{} shape.")
    assert "'{} shape.'" in capsys.readouterr().out
    from metaprompt.learners.zeroshot import resolve_template
    assert resolve_template("dataset", "OxfordPets") == "a photo of a {}, a type of pet."
    assert resolve_template("dataset", "Synthetic") == "a photo of a {}."
    with pytest.raises(ValueError, match="exactly one"):
        resolve_template("a photo", "OxfordPets")


def test_a_learner_without_prompts_refuses_to_train(data_root, tmp_path):
    with pytest.raises(ConfigError, match="nothing to train"):
        make_trainer("VPT", data_root, str(tmp_path), "TRAINER.VPT.PROMPT_DEPTH_VISION", "0")
