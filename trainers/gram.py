"""GRAM trainer: a wrapped learner tuned from GRAM's meta-learned prompts with its frozen regulator.

``TRAINER.GRAM.BASE`` picks the wrapped learner (CoOp, VPT, IVLP or MaPLe), which reads its
keys from its own node (``TRAINER.COOP`` ...); ``PREC`` comes from ``TRAINER.GRAM.PREC``.
``TRAINER.GRAM.ARTEFACT`` is the file meta-training wrote for the same backbone and prompt
configuration (checked: any difference is one error naming both sides). Everything else is the
wrapped method's own recipe; inference is unchanged (the regulator only acts on gradients).

* ``USE_INIT``: the learner starts from the artefact's prompt tensors;
* ``USE_REGULATOR``: after every backward (and AMP unscaling), each regulated prompt gradient is
  replaced by the frozen regulator's output, computed in fp32: the regulator is this trainer's
  step modulator (the base trainer's hook, the contract ProMetaR's gate shares).

With both False the trainer is the wrapped method itself (no artefact needed).
"""
from __future__ import annotations

import torch
from PIL import Image

from metaprompt.config import config_extension
from metaprompt.learners import PromptLearner
from metaprompt.meta.diagnostics import GRAMDiagnostics
from metaprompt.meta.gram import (BASE_NODES, add_gram_node, build_learner, check_compatible, learner_config,
                                  load_artefact)
from metaprompt.meta.gram.artefact import artefact_fingerprint
from metaprompt.meta.gram.config import check_base
from metaprompt.meta.gram.objective import task_embedding
from metaprompt.meta.gram.regulator import Regulator, TaskRegulator
from metaprompt.runtime import register_trainer
from metaprompt.runtime.finite import require_finite

from .base import PromptTrainer


@config_extension
def extend_cfg(cfg) -> None:
    add_gram_node(cfg)


@register_trainer
class GRAM(PromptTrainer):
    CFG_NODE = "GRAM"

    def check_cfg(self, cfg) -> None:
        super().check_cfg(cfg)
        check_base(cfg)
        node = cfg.TRAINER.GRAM
        if (node.USE_INIT or node.USE_REGULATOR) and not node.ARTEFACT:
            load_artefact("")  # raises the error that says what to do

    def build_learner(self, clip_model, classnames) -> PromptLearner:
        node = self.node
        learner = build_learner(self.cfg, clip_model.token_embedding, clip_model.visual.conv1.out_channels,
                                len(classnames))
        self.artefact = None
        self.regulator: Regulator | None = None
        self._task = None
        print(f"GRAM wraps {node.BASE} (learner keys from TRAINER.{BASE_NODES[node.BASE]}); "
              f"meta-learned init: {node.USE_INIT}, regulator: {node.USE_REGULATOR}")
        if not (node.USE_INIT or node.USE_REGULATOR):
            return learner
        art = load_artefact(node.ARTEFACT)
        check_compatible(art, node.ARTEFACT, node.BASE, learner_config(self.cfg), self.cfg.MODEL.BACKBONE.NAME,
                         {n: p.shape for n, p in learner.prompts.items()})
        self.artefact = art
        print(f"GRAM artefact: {node.ARTEFACT} (fingerprint {artefact_fingerprint(art)}, "
              f"{art.meta.get('steps_done')} meta-training steps on {art.corpus.get('path')})")
        if node.USE_INIT:
            with torch.no_grad():
                for name, p in learner.prompts.items():
                    p.copy_(art.prompts[name])
            print(f"Loaded the meta-learned prompt initialization from {node.ARTEFACT}")
        return learner

    def build_model(self) -> None:
        super().build_model()
        self.diagnostics = GRAMDiagnostics()
        if self.node.USE_REGULATOR:
            self.regulator = self.artefact.build_regulator().to(self.device)
            print(f"GRAM: frozen {self.regulator.describe()}")

    @torch.no_grad()
    def downstream_task_embedding(self) -> torch.Tensor:
        """The task condition: mean frozen image feature of the few-shot training set (test transform)."""
        tfm = self.test_loader.dataset.transform
        items = self.dm.dataset.train_x
        feats = []
        for i in range(0, len(items), 64):
            images = torch.stack([tfm(Image.open(x.impath).convert("RGB")) for x in items[i: i + 64]])
            feats.append(self.model.image_encoder(images.to(self.device)).float())
        return task_embedding(torch.cat(feats))

    def step_modulator(self) -> TaskRegulator | None:
        """The frozen regulator, conditioned on the downstream task (its embedding on first use)."""
        if self.regulator is None:
            return None
        if self.regulator.task_dim and self._task is None:
            self._task = self.downstream_task_embedding()
        return self.regulator.for_task(self._task)

    def check_modulated(self, grads: dict[str, torch.Tensor], modulated: dict[str, torch.Tensor]) -> None:
        # Only a non-finite output of finite gradients is the regulator's fault; non-finite gradients
        # are the GradScaler's to skip under amp, and the post-step weight check catches them otherwise.
        finite_in = {n for n, g in grads.items() if torch.isfinite(g).all()}
        require_finite(((f"the GRAM regulator's output for {n!r}", g) for n, g in modulated.items() if n in finite_in),
                       f"{self.step_label()}, before the optimizer step",
                       f"a non-finite artefact ({self.node.ARTEFACT}) or a diverged gradient "
                       f"(OPTIM.LR={self.cfg.OPTIM.LR:g})", "Training stopped; nothing was saved for this epoch.")
        # GRAM's diagnostics: how far the regulator turns and scales the gradients it rewrites.
        names = [n for n in self.regulator.names if n in grads]  # the tensors it regulates, in one order
        self.diagnostics.regulated({n: grads[n] for n in names}, {n: modulated[n] for n in names})

    def after_epoch(self) -> None:
        self.diagnostics.end_epoch(self.epoch, self.write_scalar)  # empty (nothing printed) without the regulator
        super().after_epoch()

    def after_train(self) -> None:
        if self.regulator is not None:
            print(f"GRAM diagnostics: {self.diagnostics.save(self.output_dir)}")
        super().after_train()
