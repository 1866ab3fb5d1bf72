"""ProMetaR trainer (node ``TRAINER.PROMETAR`` with the release's keys, gate optimizer ``OPTIM_VNET``).

Wires :mod:`metaprompt.meta.prometar` to the optimizers. Per batch:

* Step A: ``backward(L_ce)``, then the base trainer's hook applies the gate as gradient modulator
  (streams ``ce`` and ``reg``; gate frozen): each prompt gradient becomes ``g_ce + gamma * g_reg``,
  then the prompt optimizer steps;
* Step B (batches with two or more classes): the episode's outer loss is back-propagated to the
  prompts and the gate, and both optimizers step.

``TRAINER.PROMETAR.BASE`` picks the wrapped learner. IVLP (the release's) reads its keys from
this node; CoOp, VPT and MaPLe read theirs from their own nodes (``TRAINER.COOP`` ...).
``PREC`` always comes from this node. ``MODE`` is ``paper`` (default) or ``reference``; see
docs/prometar.md. Evaluation uses the plain prompted model: the gate is training-only.
"""
from __future__ import annotations

import dataclasses
import functools

import torch
from yacs.config import CfgNode as CN

from metaprompt.clip import autocast
from metaprompt.config import config_extension
from metaprompt.errors import ConfigError
from metaprompt.learners import IVLPLearner, PromptLearner, config_node, entries, get_meta_base
from metaprompt.meta.diagnostics import ProMetaRDiagnostics, heldout_gate_test, preserved_rng
from metaprompt.meta.gate import GATE_GRADIENT_NORMS, gamma_statistics
from metaprompt.meta.gate_options import GRANULARITIES, ConstantGate, build_gate, scale_gradients
from metaprompt.meta.prometar import ProMetaR as ProMetaRMethod
from metaprompt.meta.prometar import ProMetaRSettings, sample_episode
from metaprompt.meta.regularizers import text_teacher
from metaprompt.clip.templates import IMAGENET_TEMPLATES
from metaprompt.runtime import build_lr_scheduler, build_optimizer, register_trainer
from metaprompt.runtime.optim import check_optim_cfg

from .base import MODEL_NAME, PromptTrainer, compute_accuracy

GATE_NAME = "prometar_gate"  # its checkpoint subfolder (training state only)
MODES = ("paper", "reference")
# Wrapped learners other than IVLP: (learner class, its own config node), from the learner registry.
OTHER_BASES = {e.name: (e.learner, e.node) for e in entries() if e.meta_base and e.name != "IVLP"}
BASES = ("IVLP", *OTHER_BASES)


@config_extension
def extend_cfg(cfg) -> None:
    cfg.TRAINER.PROMETAR = CN()
    node = cfg.TRAINER.PROMETAR
    # The release's keys and defaults: IVLP's (metaprompt/learners/ivlp.py); PREC serves every BASE.
    for key, value in config_node(IVLPLearner.Config).items():
        node[key] = value
    node.ADAPT_LR = 0.0005  # alpha of the inner (support) step
    node.LR_RATIO = 0.0005  # scale of the outer (query) loss for the prompts
    node.FAST_ADAPTATION = False  # first-order inner step
    node.MIXUP_ALPHA = 0.5  # lam ~ Beta(MIXUP_ALPHA, MIXUP_BETA) per query sample
    node.MIXUP_BETA = 0.5
    node.DIM_RATE = 8  # one gate value per DIM_RATE gradient elements
    # This project's keys.
    node.BASE = "IVLP"  # a registered learner (BASES); the others read their keys from their own node
    node.MODE = "paper"  # paper or reference (the release's behaviour, frozen gate included)
    node.TEXT_REG_WEIGHT = 50.0  # w_t of R_text
    node.IMAGE_REG_WEIGHT = 20.0  # w_i of R_img
    # The text teacher's prompt templates ("{}" is the class name); empty: CLIP's 60 ImageNet
    # templates, as the release. A CLIP that never saw their words (the toy world's) needs its own.
    node.TEACHER_TEMPLATES = ()
    # Ablations and diagnostics (docs/prometar.md, "Config keys"); the defaults are the method.
    node.STEP_B = True  # False: no meta step (the gate never trains; the prompts step only in Step A)
    node.FIXED_GAMMA = -1.0  # >= 0: gamma is this constant instead of the gate's output (e.g. 0.5)
    node.VIRTUAL_TASKS = True  # False: Step B scores the query without manifold mixup (lam = 1)
    # Paper mode only: how the gate learns (issue 10, item 5). GATE_GRAD "unit_rms" normalises its
    # outer-loss gradient to unit RMS per tensor; "scale" multiplies it by GATE_LOSS_SCALE (use with
    # OPTIM_VNET.NAME adam for Adam). GATE_GRANULARITY: one gamma per DIM_RATE elements ("element"),
    # per prompt token ("token") or per tensor ("tensor").
    node.GATE_GRAD = "unit_rms"
    node.GATE_LOSS_SCALE = 1.0
    node.GATE_GRANULARITY = "element"
    # Episodes of the held-out gate test after training (from the training data; 0: skip it).
    node.DIAG_EPISODES = 16
    # The gate's optimizer and schedule: Dassl's OPTIM keys and defaults, as in the release.
    cfg.OPTIM_VNET = cfg.OPTIM.clone()


def _unchanged() -> None:
    """Reference mode's Step B hook: the release steps with the outer gradient as it is."""


def gradient_carrier(params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """A zero-valued loss whose gradient w.r.t. ``params[n]`` is exactly ``grads[n]``: gradients
    already computed go through the trainer's one optimizer path (scaler, hook, step) unchanged."""
    dtype = functools.reduce(torch.promote_types, [p.dtype for p in params.values()], torch.float32)
    terms = [(p.to(dtype) * grads[n].detach().to(dtype)).sum() for n, p in params.items()]
    total = torch.stack(terms).sum()
    return total - total.detach()


@register_trainer
class ProMetaR(PromptTrainer):
    CFG_NODE = "PROMETAR"

    def check_cfg(self, cfg) -> None:
        super().check_cfg(cfg)
        check_optim_cfg(cfg.OPTIM_VNET, "OPTIM_VNET")
        node = cfg.TRAINER.PROMETAR
        get_meta_base(node.BASE, "TRAINER.PROMETAR.BASE")  # a registered learner ProMetaR can wrap, or one line why not
        if node.MODE not in MODES:
            raise ConfigError(f"TRAINER.PROMETAR.MODE={node.MODE!r} is not supported; choose one of {MODES}")
        bad = [t for t in node.TEACHER_TEMPLATES if t.count("{}") != 1]
        if bad:
            raise ConfigError(f"TRAINER.PROMETAR.TEACHER_TEMPLATES: each template needs one '{{}}' for the class "
                              f"name; these do not: {bad}")
        if node.DIM_RATE < 1:
            raise ConfigError(f"TRAINER.PROMETAR.DIM_RATE must be >= 1, got {node.DIM_RATE}")
        check_gate_options(node)

    def likely_cause(self) -> str:
        return (f"a learning rate or loss scale too high (OPTIM.LR={self.cfg.OPTIM.LR:g}, "
                f"TRAINER.PROMETAR.LR_RATIO={self.node.LR_RATIO:g}, ADAPT_LR={self.node.ADAPT_LR:g}, "
                f"OPTIM_VNET.LR={self.cfg.OPTIM_VNET.LR:g})")

    @property
    def paper_mode(self) -> bool:
        return self.node.MODE == "paper"

    # -- model -----------------------------------------------------------------------------
    def build_learner(self, clip_model, classnames) -> PromptLearner:
        base = self.node.BASE
        learner_cls, node_name = (IVLPLearner, self.CFG_NODE) if base == "IVLP" else OTHER_BASES[base]
        print(f"ProMetaR wraps {base} (learner keys from TRAINER.{node_name})")
        return learner_cls.from_cfg(self.cfg.TRAINER[node_name], clip_model.token_embedding,
                                    clip_model.visual.conv1.out_channels, len(classnames),
                                    dataset_name=self.cfg.DATASET.NAME)

    def build_model(self) -> None:
        super().build_model()
        learner = self.model.prompt_learner
        # Paper: the gate trains in fp32. Reference: the release's gate has the model's dtype.
        gate_dtype = torch.float32 if self.paper_mode else self.model.dtype
        self.gate = build_gate(learner.prompts, learner.specs, self.node.DIM_RATE,
                               self.node.GATE_GRANULARITY).to(self.device, gate_dtype)
        self.diagnostics = ProMetaRDiagnostics(self.gate)
        n_gate = sum(p.numel() for p in self.gate.parameters())
        print(f"ProMetaR gate: {len(self.gate.mlps)} MLPs ({n_gate:,} parameters, {gate_dtype}), mode {self.node.MODE}")
        self.optim_gate = build_optimizer(self.gate, self.cfg.OPTIM_VNET)
        self.sched_gate = build_lr_scheduler(self.optim_gate, self.cfg.OPTIM_VNET)
        self.register_model(GATE_NAME, self.gate, self.optim_gate, self.sched_gate)
        self._method: ProMetaRMethod | None = None
        # Paper mode's rescaling of the gate's outer gradient: unit RMS (GATE_GRADIENT_NORMS), or
        # GATE_GRAD "scale": the gate's own outer-loss scale GATE_LOSS_SCALE.
        self.normalize_gate_gradients = (functools.partial(scale_gradients, factor=self.node.GATE_LOSS_SCALE)
                                         if self.node.GATE_GRAD == "scale" else GATE_GRADIENT_NORMS["rms"])
        self._gamma_stats: dict[str, float] = {}

    @property
    def method(self) -> ProMetaRMethod:
        """The method, with the text teacher computed on first use (evaluation never needs it)."""
        if self._method is None:
            node = self.node
            templates = tuple(node.TEACHER_TEMPLATES) or IMAGENET_TEMPLATES
            print(f"Computing the frozen-CLIP text teacher ({len(templates)} templates per class)")
            teacher = text_teacher(self.model, self.dm.dataset.classnames, templates)
            settings = ProMetaRSettings(text_weight=node.TEXT_REG_WEIGHT, image_weight=node.IMAGE_REG_WEIGHT,
                                        adapt_lr=node.ADAPT_LR, first_order=node.FAST_ADAPTATION,
                                        mixup_alpha=node.MIXUP_ALPHA, mixup_beta=node.MIXUP_BETA)
            gate = ConstantGate(node.FIXED_GAMMA) if node.FIXED_GAMMA >= 0 else self.gate
            self._method = ProMetaRMethod(self.model, gate, teacher, settings)
        return self._method

    def inference_model_names(self) -> list[str]:
        return [MODEL_NAME]

    # -- training step ---------------------------------------------------------------------
    def forward_backward(self, batch) -> dict:
        images, labels = self.parse_batch_train(batch)
        method, node = self.method, self.node
        self.diagnostics.before_step(method.prompts())
        # Step A: the prompts step with the gated gradient.
        with autocast(self.prec, self.device):
            teacher_images = method.image_teacher(images)
            losses = method.losses(images, labels, teacher_images=teacher_images)
        scale = self._loss_scale()  # g_reg is scaled as g_ce will be
        if method.settings.batched_backward:  # both in one pass (opt-in); the step's backward only writes g_ce
            g_ce, g_reg = method.task_and_regularizer_gradients(losses, method.prompts(), scale=scale)
            g_ce = {n: g / scale for n, g in g_ce.items()}
            step_loss, checked = gradient_carrier(method.prompts(), g_ce), [*g_ce.values()]
        else:  # the release's order: g_reg first, then g_ce by the step's own backward
            g_reg = method.regularizer_gradients(losses.reg * scale if scale != 1.0 else losses.reg, method.prompts())
            step_loss, checked = losses.ce, []
        g_reg = {n: g / scale for n, g in g_reg.items()}
        checked += g_reg.values()
        if self.scaler is not None and not all(torch.isfinite(g).all() for g in checked):
            self._skip_scaled_step()  # the scaler checks only the gradient in .grad: an overflow in g_reg would pass
        else:
            with self.gradient_hook(functools.partial(self._gate_step, g_reg)):
                self.backward_and_update(step_loss, names=[MODEL_NAME])
        self.diagnostics.after_step("a", method.prompts())
        self.diagnostics.gamma(self._gamma_stats)
        summary = {"loss": losses.ce.item(), "acc": compute_accuracy(losses.logits, labels),
                   "reg_text": losses.text_reg.item(), "reg_image": losses.image_reg.item(), **self._gamma_stats}
        # Step B: one-class-held-out episode; reaches the prompts and the gate.
        episode = sample_episode(labels, node.MIXUP_ALPHA, node.MIXUP_BETA, node.VIRTUAL_TASKS) if node.STEP_B else None
        if episode is not None:
            with autocast(self.prec, self.device):
                meta_loss = method.meta_loss(images, labels, episode, teacher_images)
            if self.paper_mode:
                outer, rewrite = meta_loss, self._scale_meta_grads
            else:  # the release scales the whole outer loss, the gate's share included
                outer, rewrite = meta_loss * node.LR_RATIO, _unchanged
            with self.gradient_hook(rewrite):
                self.backward_and_update(outer, names=[MODEL_NAME, GATE_NAME])
            self.diagnostics.after_step("b", method.prompts())
            self.diagnostics.gate_gradient()
            summary["loss_meta"] = meta_loss.item()
        if (self.batch_idx + 1) == self.num_batches:
            # The release builds the gate's scheduler but never steps it (reference mode keeps that).
            self.update_lr([MODEL_NAME, GATE_NAME] if self.paper_mode else [MODEL_NAME])
        return summary

    def _loss_scale(self) -> float:
        """The gradient scaler's factor (1.0 without a scaler); ``scale()`` creates it on first use."""
        if self.scaler is None:
            return 1.0
        self.scaler.scale(torch.ones((), device=self.device))
        return self.scaler.get_scale()

    def _skip_scaled_step(self) -> None:
        """What the gradient scaler does on an overflow: no step, and a lower scale."""
        self.model_zero_grad([MODEL_NAME])
        self.scaler.update(self.scaler.get_scale() * self.scaler.get_backoff_factor())

    def _gate_step(self, g_reg: dict[str, torch.Tensor]) -> None:
        """Step A: the prompts' gradient is ``g_ce`` (just back-propagated); the method's gate (the
        learned one, or a constant under FIXED_GAMMA) makes it ``g_ce + gamma * g_reg`` through the
        base trainer's hook."""
        gate = self.method.gate
        self.apply_modulator(gate, {"reg": g_reg})
        self._gamma_stats = gamma_statistics(gate.last_gamma, self.model.prompt_learner.specs)

    @torch.no_grad()
    def _scale_meta_grads(self) -> None:
        """Paper mode, Step B: the prompts' share of the outer loss is scaled by LR_RATIO; the
        gate's gradient is normalised to unit RMS per tensor, so OPTIM_VNET.LR sets its step."""
        for p in self.model.prompt_learner.parameters():
            if p.grad is not None:
                p.grad.mul_(self.node.LR_RATIO)
        self.normalize_gate_gradients(self.gate)

    def before_train(self) -> None:
        if self.paper_mode and self.cfg.OPTIM_VNET.MAX_EPOCH != self.cfg.OPTIM.MAX_EPOCH:
            print(f"Note: OPTIM_VNET.MAX_EPOCH={self.cfg.OPTIM_VNET.MAX_EPOCH} differs from "
                  f"OPTIM.MAX_EPOCH={self.cfg.OPTIM.MAX_EPOCH}: the gate's schedule will not end with training.")
        super().before_train()
        self.method  # noqa: B018  (the text teacher, before the first iteration is timed)

    def after_epoch(self) -> None:
        if self._gamma_stats:
            stats = " | ".join(f"{k} {v:.6f}" for k, v in self._gamma_stats.items())
            print(f"ProMetaR gate ({self.node.MODE} mode) after epoch {self.epoch + 1}: {stats}")
        self.diagnostics.end_epoch(self.epoch, self.write_scalar)
        super().after_epoch()

    def after_train(self) -> None:
        """The held-out gate test, then the diagnostics file, before the final test."""
        if self.node.DIAG_EPISODES > 0:
            self.diagnostics.final["heldout_gate_test"] = self.heldout_gate_test(self.node.DIAG_EPISODES)
            print(f"ProMetaR held-out gate test: {self.diagnostics.final['heldout_gate_test']}")
        print(f"ProMetaR diagnostics: {self.diagnostics.save(self.output_dir)}")
        super().after_train()

    def heldout_gate_test(self, n_episodes: int) -> dict:
        """Step B's outer loss on ``n_episodes`` episodes of the training data (fixed seed; the test
        split is never read) with the learned gate, the gate at its initial weights, and gamma 0.5."""
        node = self.node
        episodes = []
        with preserved_rng():
            torch.manual_seed(0)
            while len(episodes) < n_episodes:
                for batch in self.train_loader_x:
                    images, labels = self.parse_batch_train(batch)
                    episode = sample_episode(labels, node.MIXUP_ALPHA, node.MIXUP_BETA, node.VIRTUAL_TASKS)
                    if episode is not None:
                        episodes.append((images, labels, episode))
                    if len(episodes) == n_episodes:
                        break
                if not episodes:
                    return {"episodes": 0, "note": "no batch holds two classes"}
        method = self.method
        # The objective's value does not depend on first or second order; first order is cheaper.
        settings = dataclasses.replace(method.settings, first_order=True)

        def meta_losses(gate) -> list[float]:
            scorer = ProMetaRMethod(self.model, gate, method.text_teacher, settings)
            out = []
            for images, labels, episode in episodes:
                with autocast(self.prec, self.device):
                    out.append(scorer.meta_loss(images, labels, episode).item())
            return out

        gates = {"learned": method.gate, "initial": self.diagnostics.initial_gate_copy(),
                 "gamma_0.5": ConstantGate(0.5)}
        return heldout_gate_test(meta_losses, gates)


def check_gate_options(node) -> None:
    """The gate options of issue 10 (item 5) exist in paper mode only; reference stays the release."""
    if node.GATE_GRAD not in ("unit_rms", "scale"):
        raise ConfigError(f"TRAINER.PROMETAR.GATE_GRAD={node.GATE_GRAD!r} is not supported; "
                          "choose 'unit_rms' or 'scale'")
    if node.GATE_GRANULARITY not in GRANULARITIES:
        raise ConfigError(f"TRAINER.PROMETAR.GATE_GRANULARITY={node.GATE_GRANULARITY!r} is not supported; choose one "
                          f"of {GRANULARITIES}")
    if node.MODE == "reference" and (node.GATE_GRAD != "unit_rms" or node.GATE_GRANULARITY != "element"):
        raise ConfigError("TRAINER.PROMETAR.GATE_GRAD and GATE_GRANULARITY are paper-mode options; reference mode is "
                          "the release's gate. Set MODE paper, or leave them at their defaults.")
    if node.FIXED_GAMMA >= 0 and not node.FIXED_GAMMA <= 1:
        raise ConfigError(f"TRAINER.PROMETAR.FIXED_GAMMA={node.FIXED_GAMMA} must be in [0, 1] (a sigmoid's range), "
                          "or negative for the learned gate")
    if node.DIAG_EPISODES < 0:
        raise ConfigError(f"TRAINER.PROMETAR.DIAG_EPISODES must be >= 0, got {node.DIAG_EPISODES}")
