"""GRAM's configuration node ``TRAINER.GRAM`` and the wrapped learner it selects.

One YAML serves both stages, so the meta-trained artefact and the downstream run share the
backbone and the prompt configuration by construction:

* ``TRAINER.GRAM.BASE`` picks the wrapped learner (CoOp, VPT, IVLP, MaPLe); that learner reads
  its keys from its *own* node (``TRAINER.COOP``, ``TRAINER.VPT``, ``TRAINER.IVLP``,
  ``TRAINER.MAPLE``), except ``PREC``, which comes from ``TRAINER.GRAM.PREC``;
* ``TRAINER.GRAM.REGULATOR`` describes the regulator to meta-train (downstream, the artefact's
  own record of it is used);
* ``TRAINER.GRAM.META`` holds the meta-training settings (read only by meta-training).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from yacs.config import CfgNode as CN

from ...errors import ConfigError
from ...learners import LEARNERS, PromptLearner, entries, get_meta_base

# The wrapped learner -> the config node its keys come from (the learner registry's meta bases).
BASE_NODES = {e.name: e.node for e in entries() if e.meta_base}


def add_gram_node(cfg: CN) -> None:
    cfg.TRAINER.GRAM = CN()
    node = cfg.TRAINER.GRAM
    node.BASE = "CoOp"  # a registered learner (BASE_NODES); its keys come from its own node
    node.PREC = "fp16"  # fp16, fp32, amp or bf16 (downstream, for every BASE)
    node.ARTEFACT = ""  # the meta-trained artefact (needed when USE_INIT or USE_REGULATOR)
    node.USE_INIT = True  # start from the meta-learned prompts (False: the base method's own init)
    node.USE_REGULATOR = True  # regulate prompt gradients with the frozen regulator (False: raw gradients)

    node.REGULATOR = CN()
    node.REGULATOR.KIND = "gate"  # gate (per-token MLP gate + norm rescaling), elementwise, lowrank
    node.REGULATOR.HIDDEN = 32  # gate MLP width
    node.REGULATOR.RANK = 8  # lowrank rank
    node.REGULATOR.SHARE = "tensor"  # tensor (one module per prompt tensor) or modality (+ layer embedding)
    node.REGULATOR.TASK_COND = False  # gate: condition on the mean frozen image feature of the task
    node.REGULATOR.MODALITIES = ("text", "vision", "coupling")  # prompt tensors that are regulated

    node.META = CN()
    meta = node.META
    meta.STEPS = 2000  # outer steps
    meta.TASKS_PER_STEP = 4  # episodes averaged per outer step
    meta.N_WAY = 5  # pseudo-classes per episode
    meta.K_SHOT = 4  # support images per class (one domain)
    meta.N_QUERY = 8  # query images per class (another domain)
    meta.INNER_STEPS = 1
    meta.INNER_LR = 0.05  # alpha of theta' = theta - alpha * R(g)  (plain SGD on the support set)
    meta.FIRST_ORDER = True  # theta: first order; phi always gets the exact gradient through R(g)
    meta.PROMPT_LR = 0.002  # Adam, for the prompt initialization theta
    meta.REGULATOR_LR = 0.001  # Adam, for the regulator phi
    meta.K1 = 100  # level-1 pseudo-classes
    meta.K2 = 3  # level-2 domains per pseudo-class
    meta.LEVEL1 = "text"  # text (caption embeddings) or joint (image + caption)
    meta.KMEANS_ITERS = 50
    meta.NAME_MAX_TOKENS = 32  # pseudo-class names (central captions) are cut to this many BPE tokens
    meta.PREC = "fp32"  # fp32 or bf16 (autocast)
    meta.CHECKPOINT_EVERY = 100  # steps between resumable checkpoints
    meta.ENCODE_BATCH = 256  # batch size of the one-off feature pass
    meta.FINGERPRINT = "content"  # content (hash every image) or stat (sizes and times)


def check_base(cfg: CN) -> str:
    base = cfg.TRAINER.GRAM.BASE
    get_meta_base(base, "TRAINER.GRAM.BASE")  # a registered learner GRAM can wrap, or one line why not
    return base


def learner_config(cfg: CN) -> dict:
    """The wrapped learner's keys (its own node, ``PREC`` left out): what the prompts' shapes follow."""
    node = cfg.TRAINER[BASE_NODES[check_base(cfg)]]
    return {k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in node.items() if k != "PREC"}


def build_learner(cfg: CN, token_embedding, vision_width: int, n_cls: int) -> PromptLearner:
    base = check_base(cfg)
    node = cfg.TRAINER[BASE_NODES[base]]
    if node.get("CSC", False):  # CoOp and KgCoOp
        key = f"TRAINER.{BASE_NODES[base]}.CSC"
        raise ConfigError(f"GRAM cannot wrap {base} with class-specific contexts ({key} True): a meta-learned "
                          f"initialization must not depend on the label set. Set {key} False.")
    return LEARNERS[base].from_cfg(node, token_embedding, vision_width, n_cls, dataset_name=cfg.DATASET.NAME)


@dataclass(frozen=True)
class MetaSettings:
    steps: int
    tasks_per_step: int
    n_way: int
    k_shot: int
    n_query: int
    inner_steps: int
    inner_lr: float
    first_order: bool
    prompt_lr: float
    regulator_lr: float
    k1: int
    k2: int
    level1: str
    kmeans_iters: int
    name_max_tokens: int
    prec: str
    checkpoint_every: int
    encode_batch: int
    fingerprint: str

    @classmethod
    def from_cfg(cls, cfg: CN) -> "MetaSettings":
        m = cfg.TRAINER.GRAM.META
        s = cls(**{f: m[f.upper()] for f in cls.__dataclass_fields__})
        positive = ("steps", "tasks_per_step", "n_way", "k_shot", "n_query", "inner_steps", "k1", "k2",
                    "kmeans_iters", "name_max_tokens", "encode_batch")
        bad = [f"META.{f.upper()}={getattr(s, f)}" for f in positive if getattr(s, f) < 1]
        rates = ("inner_lr", "prompt_lr", "regulator_lr")
        bad += [f"META.{f.upper()}={getattr(s, f)}" for f in rates if not 0 <= getattr(s, f) < math.inf]
        if s.n_way < 2:
            bad.append(f"META.N_WAY={s.n_way} (an episode needs at least 2 classes)")
        if bad:
            raise ConfigError(f"Invalid GRAM meta-training settings: {', '.join(bad)}; counts must be >= 1 and "
                              "learning rates finite and >= 0.")
        if s.prec not in ("fp32", "bf16"):
            raise ConfigError(f"TRAINER.GRAM.META.PREC={s.prec!r}: meta-training runs in fp32 or bf16")
        if s.level1 not in ("text", "joint"):
            raise ConfigError(f"TRAINER.GRAM.META.LEVEL1={s.level1!r}: choose text or joint")
        if s.fingerprint not in ("content", "stat"):
            raise ConfigError(f"TRAINER.GRAM.META.FINGERPRINT={s.fingerprint!r}: choose content or stat")
        return s

    # Settings that do not change what is learned (left out of the resume identity).
    OPERATIONAL = ("steps", "checkpoint_every", "encode_batch")
