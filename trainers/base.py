"""``PromptTrainer``: what every prompt-learning trainer shares, on either runtime.

It wires a config node to a learner, builds :class:`PromptedCLIP` with frozen CLIP weights,
and splits Dassl's ``model_backward_and_update`` at the point meta methods need:

    zero_grad -> backward -> (unscale under AMP) -> modulate() -> optimizer step

``modulate`` is :meth:`PromptTrainer.modulate_gradients`, the one Step-A hook: the trainer's
:meth:`step_modulator` (a :class:`GradientModulator`, e.g. GRAM's regulator) rewrites the
prompts' gradients through :meth:`apply_modulator`. A trainer with extra gradient streams
(ProMetaR's ``g_reg``) installs its own hook for one step with :meth:`gradient_hook`.

Subclasses set ``CFG_NODE`` (their ``cfg.TRAINER`` node) and ``LEARNER`` (a learner class with
``from_cfg``); meta trainers override ``forward_backward`` / ``step_modulator``.
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterator, Mapping

import torch

from metaprompt.clip import PRECISIONS, autocast, half_weights, load_clip, needs_grad_scaler, resolve_precision
from metaprompt.errors import ConfigError
from metaprompt.learners import PromptedCLIP, PromptLearner
from metaprompt.meta.functional import GradientModulator, Tensors
from metaprompt.runtime import SafeCheckpointMixin, TrainerX, build_lr_scheduler, build_optimizer
from metaprompt.runtime.finite import require_finite
from metaprompt.runtime.optim import check_optim_cfg

MODEL_NAME = "prompt_learner"  # the checkpoint subfolder, as in the CoOp family
_NON_FINITE_ADVICE = ("Training stopped before saving this epoch (checkpoints already written are finite). "
                      "Lower that value and train again into another --output-dir.")


def compute_accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    return 100.0 * (output.argmax(dim=1) == target).float().mean().item()


# The built-in TrainerX already uses the safe checkpoint methods; real Dassl's gets them in front.
_BASES = (TrainerX,) if issubclass(TrainerX, SafeCheckpointMixin) else (SafeCheckpointMixin, TrainerX)


class PromptTrainer(*_BASES):
    CFG_NODE: str = ""
    LEARNER: type[PromptLearner]
    TRAINS_PROMPTS = True  # False: a learner without prompt tensors is expected (zero-shot CLIP)

    @property
    def node(self):
        return self.cfg.TRAINER[self.CFG_NODE]

    def check_cfg(self, cfg) -> None:
        """Reject unsupported values before data and weights are loaded (the device comes later)."""
        prec = cfg.TRAINER[self.CFG_NODE].PREC
        if prec not in PRECISIONS:
            raise ConfigError(f"TRAINER.{self.CFG_NODE}.PREC={prec!r} is not supported; choose one of {PRECISIONS}")
        check_optim_cfg(cfg.OPTIM)
        for key in ("TRAIN_X", "TEST"):
            size = cfg.DATALOADER[key].BATCH_SIZE
            if size < 1:
                raise ConfigError(f"DATALOADER.{key}.BATCH_SIZE must be >= 1, got {size}.")

    # -- model -----------------------------------------------------------------------------
    def build_learner(self, clip_model, classnames) -> PromptLearner:
        return self.LEARNER.from_cfg(self.node, clip_model.token_embedding, clip_model.visual.conv1.out_channels,
                                     len(classnames), dataset_name=self.cfg.DATASET.NAME)

    def build_model(self) -> None:
        cfg = self.cfg
        classnames = self.dm.dataset.classnames
        self.prec = resolve_precision(self.node.PREC, self.device)
        if self.prec != self.node.PREC:  # printed, so log.txt says it too (the warning goes to stderr only)
            print(f"TRAINER.{self.CFG_NODE}.PREC {self.node.PREC} on {self.device.type}: running in {self.prec}")
        backbone = cfg.MODEL.BACKBONE.NAME
        print(f"Loading CLIP (backbone: {backbone})")
        clip_model = load_clip(backbone, cfg.MODEL.BACKBONE.PATH)
        size = clip_model.visual.input_resolution
        if tuple(cfg.INPUT.SIZE) != (size, size):
            raise ConfigError(f"INPUT.SIZE is {tuple(cfg.INPUT.SIZE)} but backbone {backbone} expects "
                              f"({size}, {size}). Set INPUT.SIZE to match the backbone.")
        if self.prec == "fp16":
            half_weights(clip_model)  # as the CoOp family (LayerNorm stays fp32)
        print(f"Building {type(self).__name__} prompt learner")
        learner = self.build_learner(clip_model, classnames).to(clip_model.dtype)
        self.model = PromptedCLIP(clip_model, learner, classnames)
        for name, p in self.model.named_parameters():
            p.requires_grad_(name.startswith("prompt_learner."))
        n_trainable = sum(p.numel() for p in learner.parameters())
        print(f"Trainable prompt tensors: {len(learner.prompts)} ({n_trainable:,} parameters)")
        empty = [name for name, p in learner.prompts.items() if p.numel() == 0]
        if empty:
            raise ConfigError(f"{type(self).__name__} built empty prompt tensors {empty} (0 parameters): is a number "
                              "of context tokens (N_CTX...) 0? Set it >= 1, or use --trainer ZeroshotCLIP to "
                              "evaluate CLIP without prompts.")
        if not learner.prompts and self.TRAINS_PROMPTS:
            raise ConfigError(f"{type(self).__name__} built a learner without any prompt tensor (is a prompt depth or "
                              "the number of context tokens 0?), so there is nothing to train. Set them >= 1, or use "
                              "--trainer ZeroshotCLIP to evaluate CLIP without prompts.")
        if cfg.MODEL.INIT_WEIGHTS:
            self.load_init_weights(cfg.MODEL.INIT_WEIGHTS)
        self.model.to(self.device)
        self.optim = build_optimizer(learner, cfg.OPTIM) if learner.prompts else None
        self.sched = build_lr_scheduler(self.optim, cfg.OPTIM) if learner.prompts else None
        self.register_model(MODEL_NAME, learner, self.optim, self.sched)
        self.scaler = torch.amp.GradScaler(self.device.type) if needs_grad_scaler(self.prec, self.device) else None

    def load_init_weights(self, path: str) -> None:
        from metaprompt.runtime.checkpoint import load_checkpoint, load_matching_state

        state = load_checkpoint(path, hint="Fix MODEL.INIT_WEIGHTS.", require_state_dict=False)
        state = state.get("state_dict", state)
        own = self.model.prompt_learner.state_dict()
        matched = [k for k in state if k in own]
        if not matched:
            theirs = f"{sorted(state)[:5]}{' ...' if len(state) > 5 else ''}"
            raise ConfigError(f'MODEL.INIT_WEIGHTS "{path}" holds none of this prompt learner\'s tensors (it has '
                              f"{theirs}; this learner has {sorted(own)}). Point it at a checkpoint of the same "
                              "learner, or leave it empty.")
        load_matching_state(self.model.prompt_learner, {**own, **{k: state[k] for k in matched}}, path,
                            "Fix MODEL.INIT_WEIGHTS.")
        skipped = sorted(set(state) - set(matched))
        kept = sorted(set(own) - set(matched))
        print(f"Loaded {matched} from MODEL.INIT_WEIGHTS {path}"
              + (f"; ignored tensors this learner lacks: {skipped}" if skipped else "")
              + (f"; kept initial values of {kept}" if kept else ""))

    # -- training step ---------------------------------------------------------------------
    def parse_batch_train(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)``; real Dassl's ``TrainerX`` would return the domain too."""
        return batch["img"].to(self.device), batch["label"].to(self.device)

    def forward_backward(self, batch) -> dict:
        image, label = self.parse_batch_train(batch)
        with autocast(self.prec, self.device):  # cross-entropy plus the learner's own losses (KgCoOp ...)
            loss, output, parts = self.model.training_loss(image, label)
        self.backward_and_update(loss)
        if (self.batch_idx + 1) == self.num_batches:
            self.update_lr()
        return {"loss": loss.item(), "acc": compute_accuracy(output, label), **{k: v.item() for k, v in parts.items()}}

    def backward_and_update(self, loss: torch.Tensor, names=None) -> None:
        """Dassl's ``model_backward_and_update`` with a gradient hook between backward and step
        (:meth:`modulate_gradients`, or the one :meth:`gradient_hook` installs); the updated weights
        are checked for inf/NaN after every step."""
        modulate = self._gradient_hook or self.modulate_gradients
        self.model_zero_grad(names)
        self.detect_anomaly(loss)
        names = self.get_model_names(names)
        if self.scaler is None:
            loss.backward()
            modulate()
            self.model_update(names)
        else:
            self.scaler.scale(loss).backward()
            for name in names:
                if self._optims[name] is not None:
                    self.scaler.unscale_(self._optims[name])
            modulate()
            for name in names:
                if self._optims[name] is not None:
                    self.scaler.step(self._optims[name])
            self.scaler.update()
        for name in names:
            if self._optims[name] is not None:
                require_finite(((f"{name} tensor {n!r}", p) for n, p in self._models[name].named_parameters()),
                               f"{self.step_label()}, after the optimizer step", self.likely_cause(),
                               _NON_FINITE_ADVICE)

    def step_label(self) -> str:
        return f"Epoch {self.epoch + 1}, batch {getattr(self, 'batch_idx', 0) + 1}"

    def likely_cause(self) -> str:
        """What usually makes training non-finite, with this run's values (meta trainers add theirs)."""
        return f"a learning rate too high (OPTIM.LR={self.cfg.OPTIM.LR:g})"

    def detect_anomaly(self, loss: torch.Tensor) -> None:
        """Dassl's check of the loss, as one clear error instead of a FloatingPointError traceback."""
        require_finite({"the training loss": loss.detach()}, f"{self.step_label()}, before the backward pass",
                       self.likely_cause() + " (the weights may have diverged at an earlier step)",
                       _NON_FINITE_ADVICE)

    # -- the Step-A hook: gradient modulation ----------------------------------------------
    _gradient_hook: Callable[[], None] | None = None

    @contextlib.contextmanager
    def gradient_hook(self, hook: Callable[[], None]) -> Iterator[None]:
        """Within the block, :meth:`backward_and_update` runs ``hook`` between backward and step
        instead of :meth:`modulate_gradients` (ProMetaR: the gate with this batch's ``g_ce`` and ``g_reg``)."""
        previous, self._gradient_hook = self._gradient_hook, hook
        try:
            yield
        finally:
            self._gradient_hook = previous

    def step_modulator(self) -> GradientModulator | None:
        """The modulator of every step's prompt gradients (``None``: plain gradient descent)."""
        return None

    def modulate_gradients(self) -> None:
        """The default hook: the trainer's :meth:`step_modulator` on the back-propagated gradient."""
        modulator = self.step_modulator()
        if modulator is not None:
            self.apply_modulator(modulator)

    @torch.no_grad()
    def apply_modulator(self, modulator: GradientModulator, streams: Mapping[str, Tensors] | None = None) -> Tensors:
        """Replace the prompts' gradients (just back-propagated, unscaled under AMP: the ``"ce"``
        stream) by ``modulator.modulate({"ce": ..., **streams})``; returns what it wrote.

        Gradients keep their dtype (a modulator computes in its own); a prompt without a gradient
        gets one only if the modulator returns it.
        """
        prompts = self.model.prompt_learner.prompts
        ce = {n: p.grad for n, p in prompts.items() if p.grad is not None}
        out = modulator.modulate({"ce": ce, **(streams or {})})
        self.check_modulated(ce, out)
        for name, g in out.items():
            p = prompts[name]
            if p.grad is None:
                p.grad = g.to(p.dtype)
            elif g is not p.grad:
                p.grad.copy_(g)  # cast back to the gradient's dtype (fp16 under PREC fp16)
        return out

    def check_modulated(self, grads: Tensors, modulated: Tensors) -> None:
        """Hook: reject a modulator's output before the step (a trainer adds its own check)."""

    # -- evaluation and checkpoints ---------------------------------------------------------
    def model_inference(self, input: torch.Tensor) -> torch.Tensor:
        with autocast(self.prec, self.device):
            return self.model(input).float()

    def test(self, split=None):
        with self.model.cached_text_features():
            return super().test(split)

    def kept_by_dassl(self, epoch: int) -> bool:
        """Whether Dassl's ``after_epoch`` saves (and keeps) the checkpoint of 1-based ``epoch``."""
        freq = self.cfg.TRAIN.CHECKPOINT_FREQ
        return epoch == self.max_epoch or (freq > 0 and epoch % freq == 0)

    def after_epoch(self) -> None:
        """Dassl's checkpoints, plus a rolling one every epoch so an interrupted run can resume.

        The rolling checkpoint of the previous epoch is removed once this epoch's is written, so a
        finished run holds exactly the checkpoints Dassl would have written.
        """
        super().after_epoch()
        epoch = self.epoch + 1
        if not self.kept_by_dassl(epoch):
            self.save_model(self.epoch, self.output_dir)
        previous = epoch - 1
        if previous >= 1 and not self.kept_by_dassl(previous):
            for name in self.get_model_names():
                path = os.path.join(self.output_dir, name, f"model.pth.tar-{previous}")
                if os.path.exists(path):
                    os.remove(path)
