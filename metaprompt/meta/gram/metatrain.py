"""GRAM meta-training: one artefact (prompt initialization + gradient regulator) from an image-text corpus.

    python -m metaprompt.meta.gram.metatrain --corpus CORPUS --config-file configs/trainers/GRAM/smoke.yaml \
        --output-dir OUT [--cache-dir DIR] [--seed 1] [--stop-after N] [KEY VALUE ...]

Pipeline: read the corpus -> frozen-CLIP features (cached) -> two-level clustering -> cross-domain
episodes -> outer steps of Adam on theta (the prompts) and phi (the regulator) -> ``OUT/artefact.pt``.
The trainer config is the same YAML the downstream GRAM run uses, so backbone and prompt shapes
match by construction. ``OUT/checkpoint.pt`` is written every ``META.CHECKPOINT_EVERY`` steps; a
re-run with the same output folder resumes from it (bit-exact on CPU) and refuses a checkpoint
written for another configuration. ``--stop-after N`` stops after N steps in this call (to split a
long run across jobs); raising ``META.STEPS`` later continues a finished run.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import os
import pickle
import sys
import zipfile
from typing import Sequence

import torch
from tqdm import tqdm

from ...clip.openai import SimpleTokenizer
from ...clip import load_clip
from ...errors import ConfigError
from ...learners import PromptedCLIP
from ..functional import double_backward_attention
from .artefact import Artefact, identity_fingerprint, load_artefact, nonfinite, save_artefact
from .clustering import build_hierarchy
from .config import MetaSettings, build_learner, learner_config
from .corpus import Corpus, image_transform, load_image, read_corpus
from .episodes import Episode, EpisodeSampler
from .features import corpus_features
from .objective import InnerLoop, episode_loss, task_embedding
from .regulator import Regulator, RegulatorConfig

ARTEFACT_FILE = "artefact.pt"
CHECKPOINT_FILE = "checkpoint.pt"


class MetaTrainingError(ConfigError):
    """Meta-training cannot go on (it diverged, or its checkpoint is unusable); the message says what to do."""


@functools.lru_cache(maxsize=1)
def _tokenizer() -> SimpleTokenizer:
    return SimpleTokenizer()


def short_name(caption: str, max_tokens: int) -> str:
    """A caption cut to ``max_tokens`` BPE tokens, so ``prompt + name`` fits CLIP's 77-token context."""
    tokens = _tokenizer().encode(caption)
    return caption if len(tokens) <= max_tokens else _tokenizer().decode(tokens[:max_tokens]).strip()


def meta_identity(cfg, seed: int, corpus_fingerprint: str) -> dict:
    """Everything a meta-training result depends on; a checkpoint or artefact must agree with it."""
    meta = {k: v for k, v in vars(MetaSettings.from_cfg(cfg)).items() if k not in MetaSettings.OPERATIONAL}
    return {"base": cfg.TRAINER.GRAM.BASE, "learner_config": learner_config(cfg),
            "backbone": {"name": cfg.MODEL.BACKBONE.NAME, "path": cfg.MODEL.BACKBONE.PATH},
            "input": {"size": list(cfg.INPUT.SIZE), "mean": list(cfg.INPUT.PIXEL_MEAN),
                      "std": list(cfg.INPUT.PIXEL_STD), "interpolation": cfg.INPUT.INTERPOLATION},
            "regulator": RegulatorConfig.from_node(cfg.TRAINER.GRAM.REGULATOR).to_dict(), "meta": meta,
            "seed": seed, "corpus_fingerprint": corpus_fingerprint}


class MetaTrainer:
    """Everything meta-training holds: corpus features, hierarchy, sampler, model, regulator, optimizers."""

    def __init__(self, cfg, corpus: Corpus | str, output_dir: str, cache_dir: str = "", seed: int = 1) -> None:
        self.cfg, self.seed, self.output_dir = cfg, seed, output_dir
        self.settings = s = MetaSettings.from_cfg(cfg)
        self.reg_config = RegulatorConfig.from_node(cfg.TRAINER.GRAM.REGULATOR)
        self.base, self.learner_cfg = cfg.TRAINER.GRAM.BASE, learner_config(cfg)
        self.device = torch.device("cuda") if torch.cuda.is_available() and cfg.USE_CUDA else torch.device("cpu")
        self.corpus = read_corpus(corpus) if isinstance(corpus, str) else corpus
        self.fingerprint = self.corpus.fingerprint(s.fingerprint)
        print(f"Corpus: {len(self.corpus):,} pairs from {self.corpus.path} (fingerprint {self.fingerprint[:12]})")

        backbone = cfg.MODEL.BACKBONE
        clip_model = load_clip(backbone.NAME, backbone.PATH).to(self.device)
        size = clip_model.visual.input_resolution
        if tuple(cfg.INPUT.SIZE) != (size, size):
            raise ConfigError(f"INPUT.SIZE is {tuple(cfg.INPUT.SIZE)} but backbone {backbone.NAME} expects "
                              f"({size}, {size}). Set INPUT.SIZE to match the backbone.")
        self.transform = image_transform(size, cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD, cfg.INPUT.INTERPOLATION)
        preprocessing = {"size": size, "mean": list(cfg.INPUT.PIXEL_MEAN), "std": list(cfg.INPUT.PIXEL_STD),
                         "interpolation": cfg.INPUT.INTERPOLATION}
        self.features = corpus_features(
            self.corpus, self.fingerprint, clip_model, self.transform,
            {"backbone": backbone.NAME, "backbone_path": backbone.PATH, "fingerprint_mode": s.fingerprint,
             "preprocessing": preprocessing},
            cache_dir or os.path.join(output_dir, "cache"), s.encode_batch, self.device, cfg.DATALOADER.NUM_WORKERS)

        captions = [short_name(c, s.name_max_tokens) for c in self.corpus.captions]
        self.hierarchy = build_hierarchy(self.features.image, self.features.text, captions, s.k1, s.k2, seed,
                                         s.level1, s.kmeans_iters)
        self.sampler = EpisodeSampler(self.hierarchy, s.n_way, s.k_shot, s.n_query, seed)
        print(f"Hierarchy: {self.hierarchy.num_classes} pseudo-classes (K1={s.k1}) x up to {s.k2} domains; "
              f"{len(self.sampler.classes)} usable for {s.n_way}-way {s.k_shot}-shot cross-domain episodes")

        # Learner and regulator initializations come from the seed, not from the global stream's history.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            learner = build_learner(cfg, clip_model.token_embedding, clip_model.visual.conv1.out_channels, s.n_way)
            self.model = PromptedCLIP(clip_model, learner, self.hierarchy.names[: s.n_way]).to(self.device)
            shapes = {n: p.shape for n, p in learner.prompts.items()}
            embed_dim = clip_model.text_projection.shape[1]
            self.regulator = Regulator(self.reg_config, shapes, learner.specs, embed_dim)
            self.regulator.to(self.device)
        for name, p in self.model.named_parameters():
            p.requires_grad_(name.startswith("prompt_learner."))
        # Text-only learners never change the image side: use the cached frozen features (unless the
        # text itself is conditioned on each image, which needs the images' own features).
        self.use_cached_images = (all(sp.modality == "text" for sp in learner.specs.values())
                                  and not learner.TEXT_DEPENDS_ON_IMAGE)
        self.opt_prompts = torch.optim.Adam(learner.parameters(), lr=s.prompt_lr)
        self.opt_regulator = torch.optim.Adam(self.regulator.parameters(), lr=s.regulator_lr)
        self.inner = InnerLoop(s.inner_lr, s.inner_steps, s.first_order)
        self.step_done = 0
        self.saved_step: int | None = None  # the step of the checkpoint on disk, if any
        print(f"Meta-learning {self.base} prompts ({len(learner.prompts)} tensors, "
              f"{sum(p.numel() for p in learner.parameters()):,} parameters) and a {self.regulator.describe()}")

    @property
    def learner(self):
        return self.model.prompt_learner

    # -- identity: what a checkpoint or artefact must agree with --------------------------------
    def identity(self) -> dict:
        return meta_identity(self.cfg, self.seed, self.fingerprint)

    # -- one outer step ------------------------------------------------------------------------------
    def _inputs(self, indices: torch.Tensor) -> torch.Tensor:
        if self.use_cached_images:
            return self.features.image[indices].to(self.device)
        images = [self.transform(load_image(self.corpus.records[i])) for i in indices.tolist()]
        return torch.stack(images).to(self.device)

    def episode_loss(self, episode: Episode) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.set_classnames(episode.names)
        support = (self._inputs(episode.support), episode.support_labels.to(self.device))
        query = (self._inputs(episode.query), episode.query_labels.to(self.device))
        task = task_embedding(self.features.image[episode.support]).to(self.device) if self.reg_config.task_cond else None
        return episode_loss(self.model, dict(self.learner.prompts), self.regulator, support, query, self.inner, task)

    def step(self) -> dict[str, float]:
        s = self.settings
        self.opt_prompts.zero_grad(set_to_none=True)
        self.opt_regulator.zero_grad(set_to_none=True)
        total_loss, total_acc = 0.0, 0.0
        second_order = double_backward_attention() if not s.first_order else contextlib.nullcontext()
        amp = (torch.autocast(self.device.type, dtype=torch.bfloat16) if s.prec == "bf16"
               else contextlib.nullcontext())
        for i in range(s.tasks_per_step):
            episode = self.sampler.sample()
            with second_order, amp:
                loss, logits = self.episode_loss(episode)
            if not torch.isfinite(loss):
                self._diverged(f"the loss of episode {i + 1} is {loss.item()}")
            (loss / s.tasks_per_step).backward()
            total_loss += loss.item()
            total_acc += (logits.argmax(1).cpu() == episode.query_labels).float().mean().item()
        try:
            self.opt_prompts.step()
            self.opt_regulator.step()
        except RuntimeError as e:  # Adam's step size lr / (1 - beta1^t) beyond float32
            if "overflow" not in str(e):
                raise
            self._diverged(f"the Adam update overflows ({e})")
        bad = ([f"prompt {n}" for n in nonfinite(dict(self.learner.named_parameters()))]
               + [f"regulator {n}" for n in nonfinite(dict(self.regulator.named_parameters()))])
        if bad:
            self._diverged(f"the update made {', '.join(bad[:4])} non-finite")
        self.step_done += 1
        return {"loss": total_loss / s.tasks_per_step, "acc": 100 * total_acc / s.tasks_per_step}

    def _diverged(self, what: str) -> None:
        """Stop at the first non-finite loss or weight: nothing of this step is saved, so no checkpoint or
        artefact ever holds NaN or inf."""
        s = self.settings
        kept = ("no checkpoint or artefact was written" if self.saved_step is None
                else f"the checkpoint of step {self.saved_step} ({self.checkpoint_path}) is kept")
        raise MetaTrainingError(
            f"GRAM meta-training diverged at step {self.step_done + 1} of {s.steps}: {what}. Likely cause: a learning "
            f"rate too large (TRAINER.GRAM.META.INNER_LR={s.inner_lr}, PROMPT_LR={s.prompt_lr}, "
            f"REGULATOR_LR={s.regulator_lr})" + (", or bf16 overflow (META.PREC bf16; try fp32)" if s.prec == "bf16"
                                                 else "")
            + f". Nothing of this step was saved; {kept}. Lower the rate and run again with another --output-dir.")

    # -- checkpoints and the artefact ----------------------------------------------------------------
    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.output_dir, CHECKPOINT_FILE)

    @property
    def artefact_path(self) -> str:
        return os.path.join(self.output_dir, ARTEFACT_FILE)

    def save_checkpoint(self) -> None:
        state = {"step": self.step_done, "identity": self.identity(), "prompts": self.learner.state_dict(),
                 "regulator": self.regulator.state_dict(), "opt_prompts": self.opt_prompts.state_dict(),
                 "opt_regulator": self.opt_regulator.state_dict(), "sampler": self.sampler.state_dict(),
                 "torch_rng": torch.get_rng_state()}
        os.makedirs(self.output_dir, exist_ok=True)
        tmp = self.checkpoint_path + ".tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)
        self.saved_step = self.step_done

    def _check_identity(self, stored: dict, what: str) -> None:
        mine = self.identity()
        diff = sorted(k for k in set(mine) | set(stored) if mine.get(k) != stored.get(k))
        if diff:
            raise ConfigError(f"{what} in {self.output_dir} was written for another configuration (differs in: "
                              f"{', '.join(diff)}). Nothing was changed. Use another --output-dir, or delete that "
                              "folder to start over.")

    def resume_if_possible(self) -> None:
        if not os.path.isfile(self.checkpoint_path):
            return
        fix = (f"Delete it to restart meta-training from step 0 (or use another --output-dir); nothing else in "
               f"{self.output_dir} is affected.")
        try:
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError) as e:
            raise MetaTrainingError(f"The meta-training checkpoint {self.checkpoint_path} is corrupt "
                                    f"({type(e).__name__}). {fix}") from None
        keys = ("step", "identity", "prompts", "regulator", "opt_prompts", "opt_regulator", "sampler", "torch_rng")
        if not isinstance(state, dict) or any(k not in state for k in keys):
            raise MetaTrainingError(f"{self.checkpoint_path} is not a GRAM meta-training checkpoint. {fix}")
        self._check_identity(state["identity"], "The checkpoint")
        if state["step"] > self.settings.steps:
            raise ConfigError(f"The checkpoint in {self.output_dir} is at step {state['step']}, beyond "
                              f"META.STEPS={self.settings.steps}. Raise META.STEPS or use another --output-dir.")
        bad = nonfinite(state["prompts"]) + nonfinite(state["regulator"])
        if bad:
            raise MetaTrainingError(f"The meta-training checkpoint {self.checkpoint_path} holds non-finite values "
                                    f"(in {', '.join(bad[:4])}). {fix}")
        try:
            self.learner.load_state_dict(state["prompts"])
            self.regulator.load_state_dict(state["regulator"])
            self.opt_prompts.load_state_dict(state["opt_prompts"])
            self.opt_regulator.load_state_dict(state["opt_regulator"])
            self.sampler.load_state_dict(state["sampler"])
            torch.set_rng_state(state["torch_rng"])
        except (RuntimeError, KeyError, TypeError, ValueError) as e:
            raise MetaTrainingError(f"The meta-training checkpoint {self.checkpoint_path} does not fit this run "
                                    f"({type(e).__name__}: {str(e).splitlines()[0][:200]}). {fix}") from None
        self.step_done = self.saved_step = state["step"]
        print(f"Resuming meta-training from step {self.step_done} ({self.checkpoint_path})")

    def artefact(self) -> Artefact:
        learner = self.learner
        return Artefact(
            base=self.base, learner_config=self.learner_cfg,
            backbone={"name": self.cfg.MODEL.BACKBONE.NAME, "path": self.cfg.MODEL.BACKBONE.PATH},
            prompts={n: p.detach().float().cpu().clone() for n, p in learner.prompts.items()},
            specs={n: [sp.modality, sp.layer] for n, sp in learner.specs.items()},
            regulator_config=self.reg_config.to_dict(),
            regulator_state={k: v.detach().float().cpu().clone() for k, v in self.regulator.state_dict().items()},
            task_dim=self.regulator.task_dim,
            corpus={"fingerprint": self.fingerprint, "fingerprint_mode": self.settings.fingerprint,
                    "n_pairs": len(self.corpus), "path": self.corpus.path},
            meta={"steps_done": self.step_done, "identity": self.identity()})

    def finished(self) -> bool:
        """An artefact for this configuration and ``META.STEPS`` is already there."""
        if not os.path.isfile(self.artefact_path):
            return False
        art = load_artefact(self.artefact_path)
        self._check_identity(art.meta.get("identity", {}), "The artefact")
        return art.meta.get("steps_done") == self.settings.steps

    def run(self, stop_after: int | None = None) -> str | None:
        """Meta-train up to ``META.STEPS`` (or ``stop_after`` more steps); returns the artefact path when done."""
        if self.finished():
            print(f"{self.artefact_path} already holds this configuration's artefact ({self.settings.steps} steps); "
                  "nothing to do")
            return self.artefact_path
        self.resume_if_possible()
        s = self.settings
        end = s.steps if stop_after is None else min(s.steps, self.step_done + stop_after)
        bar = tqdm(total=s.steps, initial=self.step_done, desc="GRAM meta-training", dynamic_ncols=True)
        try:
            while self.step_done < end:
                stats = self.step()
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.4f}", query_acc=f"{stats['acc']:.1f}")
                if self.step_done % s.checkpoint_every == 0 or self.step_done == end:
                    self.save_checkpoint()
        finally:
            bar.close()  # ends the bar's line, so an error starts a line of its own
        if self.step_done < s.steps:
            print(f"Stopped after step {self.step_done} of {s.steps}; run again with the same --output-dir to resume")
            return None
        save_artefact(self.artefact_path, self.artefact())
        print(f"Wrote the GRAM artefact to {self.artefact_path} (fingerprint "
              f"{identity_fingerprint(self.identity())})")
        return self.artefact_path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="GRAM meta-training on a local image-text corpus.")
    p.add_argument("--corpus", required=True, help="CSV/TSV of image_path,caption, or a folder of WebDataset .tar shards")
    p.add_argument("--config-file", required=True, help="the GRAM trainer YAML (same as the downstream run)")
    p.add_argument("--output-dir", required=True, help="where the checkpoint and artefact.pt go")
    p.add_argument("--cache-dir", default="", help="feature cache folder (default: OUTPUT_DIR/cache)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stop-after", type=int, default=None, help="stop after this many steps (resume later)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from metaprompt.clip import MissingWeightsError
    from metaprompt.config import build_cfg

    from .corpus import CorpusError
    from .episodes import EpisodeError

    try:
        cfg = build_cfg(config_file=args.config_file, opts=args.opts or [], args_overrides={"SEED": args.seed})
        trainer = MetaTrainer(cfg, args.corpus, args.output_dir, args.cache_dir, args.seed)
        path = trainer.run(args.stop_after)
    except (ConfigError, CorpusError, EpisodeError, MissingWeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if path:
        print(f"ARTEFACT={path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
