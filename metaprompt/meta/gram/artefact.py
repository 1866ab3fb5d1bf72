"""The meta-trained artefact: one file with everything a downstream run needs, and checks.

It holds the prompt tensors by the learner's canonical names, the regulator's configuration and
state, and the configuration that produced them (wrapped learner and its keys, backbone,
corpus fingerprint, meta-training settings). It is a plain ``torch.save`` of containers and
tensors, read with ``weights_only=True`` (loading never runs code).
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import torch

from ...errors import ConfigError
from ...learners.base import PromptSpec
from .regulator import Regulator, RegulatorConfig

FORMAT = "metaprompt-gram-artefact"
VERSION = 1


class ArtefactError(ConfigError):
    pass


def nonfinite(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the tensors holding a NaN or an infinity (meta-training diverged)."""
    return [name for name, t in tensors.items() if torch.is_tensor(t) and not bool(torch.isfinite(t).all())]


def nonfinite_parts(artefact: "Artefact") -> list[str]:
    return ([f"prompt {n}" for n in nonfinite(artefact.prompts)]
            + [f"regulator {n}" for n in nonfinite(artefact.regulator_state)])


@dataclass
class Artefact:
    base: str  # wrapped learner: CoOp, VPT, IVLP or MaPLe
    learner_config: dict  # its config node's keys (PREC left out)
    backbone: dict  # {"name": ..., "path": ...}
    prompts: dict[str, torch.Tensor]  # canonical name -> meta-learned initialization (fp32)
    specs: dict[str, list]  # canonical name -> [modality, layer]
    regulator_config: dict
    regulator_state: dict[str, torch.Tensor]
    task_dim: int
    corpus: dict  # {"fingerprint", "fingerprint_mode", "n_pairs", "path"}
    meta: dict = field(default_factory=dict)  # meta-training settings and steps done

    def prompt_specs(self) -> dict[str, PromptSpec]:
        return {n: PromptSpec(n, m, int(layer)) for n, (m, layer) in self.specs.items()}

    def build_regulator(self) -> Regulator:
        """The frozen fp32 regulator, exactly as meta-trained."""
        reg = Regulator(RegulatorConfig(**self.regulator_config), {n: p.shape for n, p in self.prompts.items()},
                        self.prompt_specs(), self.task_dim)
        reg.load_state_dict(self.regulator_state)
        reg.float().eval()
        for p in reg.parameters():
            p.requires_grad_(False)
        return reg


def identity_fingerprint(identity: Mapping) -> str:
    """A short hash of a meta-training configuration's identity (wrapped learner and keys, backbone,
    input, regulator, meta settings, seed, corpus fingerprint): equal fingerprints, same artefact."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def artefact_fingerprint(artefact: Artefact) -> str:
    return identity_fingerprint(artefact.meta.get("identity", {}))


def save_artefact(path: str, artefact: Artefact) -> None:
    bad = nonfinite_parts(artefact)
    if bad:  # meta-training stops before this; the guard keeps any caller from writing one
        raise ArtefactError(f"Refusing to write the GRAM artefact {path}: non-finite values in {', '.join(bad[:4])}.")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    torch.save({"format": FORMAT, "version": VERSION, **asdict(artefact)}, tmp)
    os.replace(tmp, path)  # never a half-written artefact


def load_artefact(path: str) -> Artefact:
    if not path:
        raise ArtefactError("TRAINER.GRAM.ARTEFACT is empty: GRAM needs a meta-trained artefact. scripts/base2new.sh "
                            "finds or meta-trains one itself; otherwise meta-train one with scripts/gram_meta_train.sh "
                            "(same trainer config), then pass TRAINER.GRAM.ARTEFACT <output>/artefact.pt. To run the wrapped method alone set TRAINER.GRAM.USE_INIT False "
                            "and TRAINER.GRAM.USE_REGULATOR False.")
    if not os.path.isfile(path):
        raise ArtefactError(f"GRAM artefact {path} does not exist. Meta-train it with scripts/gram_meta_train.sh, "
                            "or fix TRAINER.GRAM.ARTEFACT.")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError) as e:
        raise ArtefactError(f"{path} is not a readable GRAM artefact ({type(e).__name__}); meta-train it again.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ArtefactError(f"{path} is not a GRAM artefact (no '{FORMAT}' marker).")
    if raw.get("version") != VERSION:
        raise ArtefactError(f"{path} has artefact version {raw.get('version')}; this code reads version {VERSION}. "
                            "Meta-train it again.")
    missing = [k for k in Artefact.__dataclass_fields__ if k not in raw]
    if missing:
        raise ArtefactError(f"{path} is an incomplete GRAM artefact (no {', '.join(missing)}); meta-train it again.")
    artefact = Artefact(**{k: raw[k] for k in Artefact.__dataclass_fields__})
    bad = nonfinite_parts(artefact)
    if bad:
        raise ArtefactError(
            f"GRAM artefact {path} holds non-finite values (NaN or inf in {', '.join(bad[:4])}): the meta-training "
            "that wrote it diverged. Delete it and meta-train again with smaller learning rates "
            "(TRAINER.GRAM.META.INNER_LR, PROMPT_LR, REGULATOR_LR).")
    return artefact


def _fmt(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def check_compatible(artefact: Artefact, path: str, base: str, learner_config: Mapping, backbone: str,
                     shapes: Mapping[str, Sequence[int]]) -> None:
    """One :class:`ArtefactError` listing every way the run differs from what the artefact was made for."""
    problems = []
    if artefact.base != base:
        problems.append(f"wrapped learner: artefact {artefact.base}, this run {base}")
    if artefact.backbone.get("name") != backbone:
        problems.append(f"backbone: artefact {artefact.backbone.get('name')}, this run {backbone}")
    if artefact.base == base:
        for key in sorted(set(artefact.learner_config) | set(learner_config)):
            a, b = artefact.learner_config.get(key, "<absent>"), learner_config.get(key, "<absent>")
            if a != b:
                problems.append(f"{key}: artefact {a!r}, this run {b!r}")
    for name in sorted(set(artefact.prompts) | set(shapes)):
        if name not in shapes:
            problems.append(f"prompt {name}: in the artefact {_fmt(artefact.prompts[name].shape)}, absent in this run")
        elif name not in artefact.prompts:
            problems.append(f"prompt {name}: absent in the artefact, this run {_fmt(shapes[name])}")
        elif tuple(artefact.prompts[name].shape) != tuple(shapes[name]):
            problems.append(f"prompt {name}: artefact shape {_fmt(artefact.prompts[name].shape)}, "
                            f"this run's shape {_fmt(shapes[name])}")
    if problems:
        raise ArtefactError(f"GRAM artefact {path} was meta-trained for another configuration: " + "; ".join(problems)
                            + ". Meta-train an artefact with this run's trainer config (one per backbone and prompt "
                            "configuration), or point TRAINER.GRAM.ARTEFACT at the matching one.")
