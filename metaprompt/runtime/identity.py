"""A run's config identity: the resolved config recorded beside its outputs, and the one check
that decides whether an output folder holds a run of the same config.

``train.py`` writes ``<output>/run_config.json`` when a run starts: ``{"sha256": ..., "config":
{"OPTIM.LR": 0.002, ...}}``, every resolved key flattened, minus the keys in :data:`NOT_IDENTITY`
(where the data and outputs live, how verbose the log is: they do not change a result). An
evaluation run (``--eval-only``) also records the evaluated model's config hash and epoch, so
re-training the model makes its old evaluations differ too.

:func:`check_output_dir` is the one comparison. ``train.py`` uses it to refuse resuming a run of
another config; ``python -m metaprompt.cli.run_identity`` wraps it for the sweep scripts (skip a
finished run only when its config matches). See docs/foundation.md, "Config identity".
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserInputError

CONFIG_RECORD = "run_config.json"
# Keys that say where things are or how much is printed, not what is computed.
NOT_IDENTITY = ("OUTPUT_DIR", "RESUME", "DATASET.ROOT", "VERBOSE", "TRAIN.PRINT_FREQ", "MODEL.BACKBONE.PATH")


class ConfigMismatchError(UserInputError):
    """An output folder holds a run whose recorded config differs from this one."""


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN: JSON has none, and NaN != NaN
        return "nan"
    return value


def flatten(cfg, prefix: str = "") -> dict[str, Any]:
    """``{"OPTIM.LR": 0.002, ...}`` for a (yacs) config node."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        full = f"{prefix}{key}"
        if hasattr(value, "items"):
            out.update(flatten(value, full + "."))
        else:
            out[full] = _plain(value)
    return out


def config_hash(identity: dict[str, Any]) -> str:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def run_identity(cfg, eval_model_dir: str = "", load_epoch: int | None = None) -> dict[str, Any]:
    """The keys that define a run's result. ``eval_model_dir``: the model an ``--eval-only`` run scores."""
    identity = {k: v for k, v in flatten(cfg).items() if k not in NOT_IDENTITY}
    if eval_model_dir:
        recorded = read_record(eval_model_dir)
        identity["EVAL.MODEL_CONFIG_SHA256"] = recorded["sha256"] if recorded else "unrecorded"
        identity["EVAL.LOAD_EPOCH"] = load_epoch
    return identity


def read_record(output_dir: str) -> dict | None:
    """The recorded ``{"sha256", "config"}`` of a folder, or None when it has none."""
    path = os.path.join(output_dir, CONFIG_RECORD)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if not isinstance(record.get("config"), dict):
            raise ValueError("no 'config' entry")
    except (OSError, ValueError, AttributeError) as e:
        raise ConfigMismatchError(f'{path} is unreadable ({e}), so the run in "{output_dir}" cannot be checked '
                                  "against this config. Delete that file only if you know the run's config is this "
                                  "one; otherwise use another output folder.") from None
    record.setdefault("sha256", config_hash(record["config"]))
    return record


def write_record(output_dir: str, identity: dict[str, Any]) -> str:
    """Write ``run_config.json`` (atomically); returns its hash."""
    os.makedirs(output_dir, exist_ok=True)
    digest = config_hash(identity)
    path = os.path.join(output_dir, CONFIG_RECORD)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"sha256": digest, "config": identity}, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return digest


@dataclass
class IdentityCheck:
    output_dir: str
    recorded: dict | None  # the folder's record, None when it has none
    differences: list[str] = field(default_factory=list)  # "KEY: recorded -> now"

    @property
    def matches(self) -> bool:
        return self.recorded is not None and not self.differences

    def describe(self, limit: int = 6) -> str:
        shown = "; ".join(self.differences[:limit])
        more = len(self.differences) - limit
        return shown + (f"; and {more} more (see {os.path.join(self.output_dir, CONFIG_RECORD)})" if more > 0 else "")


def differences(recorded: dict[str, Any], current: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[str]:
    """``KEY: recorded -> now`` for each key that differs. A key the record lacks is no difference
    when it is at its default in ``defaults``: a key the project added after the run was recorded
    (its default keeps the old behaviour), so upgrading does not invalidate every finished run."""
    missing = object()
    defaults = defaults or {}
    out = []
    for key in sorted(set(recorded) | set(current)):
        old, new = recorded.get(key, missing), current.get(key, missing)
        if old is missing and key in defaults and new == defaults[key]:
            continue
        if old != new:
            fmt = lambda v: "(absent)" if v is missing else repr(v)  # noqa: E731
            out.append(f"{key}: {fmt(old)} -> {fmt(new)}")
    return out


def check_output_dir(output_dir: str, identity: dict[str, Any], defaults: dict[str, Any] | None = None) -> IdentityCheck:
    """Compare ``identity`` with the config recorded in ``output_dir`` (the one identity check);
    ``defaults``: the flattened default config (see :func:`differences`)."""
    record = read_record(output_dir)
    if record is None:
        return IdentityCheck(output_dir, None)
    return IdentityCheck(output_dir, record, differences(record["config"], identity, defaults))


def holds_checkpoints(output_dir: str) -> bool:
    """Whether any model subfolder of ``output_dir`` holds a ``model.pth.tar-<N>`` (something to resume)."""
    from .checkpoint import saved_epochs

    try:
        subdirs = [e.path for e in os.scandir(output_dir) if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return False
    return any(saved_epochs(d) for d in subdirs)


@dataclass
class FolderVerdict:
    action: str  # "run" (train or resume), "skip" (a finished run of this config) or "refuse"
    message: str = ""  # for "refuse": what is wrong; for "skip": a note, if any


def check_run_folder(output_dir: str, identity: dict[str, Any], finished: bool,
                     defaults: dict[str, Any] | None = None) -> FolderVerdict:
    """THE identity check: what to do with ``output_dir`` for a run of ``identity``.

    ``finished``: whether the folder's logs report a test result (``results.logparse``). A
    finished run is skipped only when its recorded config matches; a finished or interrupted run
    (one with checkpoints) of another config is refused, saying which keys differ. A finished run
    from before configs were recorded is skipped with a note. The caller adds what to do about a
    refusal (``train.py``: another --output-dir; the scripts: FORCE=1).
    """
    check = check_output_dir(output_dir, identity, defaults)
    if finished:
        if check.matches:
            return FolderVerdict("skip")
        if check.recorded is None:
            return FolderVerdict("skip", f"note: {output_dir} holds a finished run whose config was not recorded "
                                         f"(no {CONFIG_RECORD}; an older version wrote it), so it is not checked "
                                         "against this config.")
        return FolderVerdict("refuse", f'"{output_dir}" holds a finished run of another config '
                                       f"(recorded -> now: {check.describe()}).")
    if check.recorded is not None and check.differences and holds_checkpoints(output_dir):
        return FolderVerdict("refuse", f'"{output_dir}" holds checkpoints of a run of another config (recorded -> '
                                       f"now: {check.describe()}); resuming from them would mix the two.")
    return FolderVerdict("run")


def move_aside(output_dir: str) -> str:
    """Rename a folder to ``<folder>.replaced-<time>`` (kept, and no longer a ``seed<N>`` run folder)."""
    target = f"{output_dir.rstrip(os.sep)}.replaced-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while os.path.exists(target):
        n += 1
        target = f"{output_dir.rstrip(os.sep)}.replaced-{time.strftime('%Y%m%d-%H%M%S')}-{n}"
    os.rename(output_dir, target)
    return target
