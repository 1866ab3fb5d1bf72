"""Building a run's configuration with CoOp's precedence and clear errors.

Order: runtime defaults -> project and trainer extensions -> dataset YAML -> trainer YAML ->
command-line arguments -> trailing ``KEY VALUE`` opts. Every key must exist before it is set;
an unknown key is a :class:`ConfigError` that names the key, where it came from and the
closest existing keys.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Iterable

import yaml
from yacs.config import CfgNode as CN

from .errors import ConfigError
from .runtime import get_cfg_default

_EXTENSIONS: list[Callable[[CN], None]] = []
# Trainer name -> (key, value) -> (key, value): a release that keeps a trainer's keys elsewhere.
_DIALECTS: dict[str, Callable[[str, Any], tuple[str, Any]]] = {}


def config_extension(fn: Callable[[CN], None]) -> Callable[[CN], None]:
    """Register a function that adds a trainer's node (``cfg.TRAINER.<NAME>``) to the defaults."""
    if fn not in _EXTENSIONS:
        _EXTENSIONS.append(fn)
    return fn


def config_dialect(trainer: str, translate: Callable[[str, Any], tuple[str, Any]]) -> None:
    """Read ``trainer``'s YAML files and opts through ``translate`` (e.g. KgCoOp's release keeps
    its keys in ``TRAINER.COOP``), so its release's files load unchanged."""
    _DIALECTS[trainer] = translate


def _flat(data: dict, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in data.items():
        out += _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else [(f"{prefix}{k}", v)]
    return out


def _merge_file_in_dialect(cfg: CN, path: str, translate: Callable[[str, Any], tuple[str, Any]]) -> None:
    """A YAML file whose keys ``translate`` moves is merged key by key; any other file as usual."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        data = None  # merge_from_file says what is wrong
    pairs = _flat(data) if isinstance(data, dict) and "_BASE_" not in data else []
    moved = [translate(k, v) for k, v in pairs]
    if moved == pairs:
        merge_from_file(cfg, path)
        return
    print(f"{path}: read in {cfg.TRAINER.NAME}'s release layout: "
          + ", ".join(f"{k} -> {n}" for (k, _), (n, _) in zip(pairs, moved) if k != n))
    merge_from_list(cfg, [x for kv in moved for x in kv], source=path)


def extend_cfg(cfg: CN) -> None:
    """Keys this project adds to Dassl's defaults, then every registered trainer's node."""
    import metaprompt

    metaprompt.register_all()  # the trainers' and datasets' config extensions
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"  # all, base or new (CoOp's base-to-new protocol)
    # A local CLIP checkpoint (OpenAI .pt, JIT or state dict). Empty: the standard cache folder.
    cfg.MODEL.BACKBONE.PATH = ""
    for fn in _EXTENSIONS:
        fn(cfg)


def _all_keys(node: CN, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items():
        full = f"{prefix}{k}"
        keys.extend(_all_keys(v, full + ".") if isinstance(v, CN) else [full])
    return keys


def _unknown_key_error(cfg: CN, err: Exception, source: str) -> ConfigError:
    msg = str(err).strip("'\"")
    key = msg.split(":")[-1].strip() if "Non-existent" in msg else msg
    hints = difflib.get_close_matches(key, _all_keys(cfg), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(hints)}?" if hints else ""
    return ConfigError(f"Unknown config key {key!r} in {source}.{hint} Keys must exist in the defaults or a "
                       "trainer's node (see configs/ for examples).")


def merge_from_file(cfg: CN, path: str) -> None:
    try:
        cfg.merge_from_file(path)
    except FileNotFoundError:
        raise ConfigError(f"Config file {path!r} does not exist.") from None
    except KeyError as e:
        raise _unknown_key_error(cfg, e, path) from None
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise ConfigError(f"{path} is not valid YAML{line}: {getattr(e, 'problem', None) or e}. Fix that file.") from None


def merge_from_list(cfg: CN, opts: Iterable[str], source: str = "command-line opts") -> None:
    opts = list(opts)
    if len(opts) % 2:
        raise ConfigError(f"{source} must be KEY VALUE pairs; got an odd number of items: {opts}")
    try:
        cfg.merge_from_list(opts)
    except (KeyError, AssertionError) as e:
        raise _unknown_key_error(cfg, e, source) from None
    except ValueError as e:
        raise ConfigError(f"{source}: {e}") from None


def build_cfg(dataset_config_file: str = "", config_file: str = "", opts: Iterable[str] = (),
              args_overrides: dict | None = None) -> CN:
    """The whole precedence chain; ``args_overrides`` holds the values set by CLI arguments."""
    cfg = get_cfg_default()
    extend_cfg(cfg)
    opts = list(opts)
    trainer = (args_overrides or {}).get("TRAINER.NAME") or dict(zip(opts[::2], opts[1::2])).get("TRAINER.NAME")
    translate = _DIALECTS.get(trainer or "")
    if translate is not None:
        cfg.TRAINER.NAME = trainer
        opts = [x for k, v in zip(opts[::2], opts[1::2]) for x in translate(k, v)] + opts[len(opts) // 2 * 2:]
    if dataset_config_file:
        merge_from_file(cfg, dataset_config_file)
    if config_file:
        if translate is not None:
            _merge_file_in_dialect(cfg, config_file, translate)
        else:
            merge_from_file(cfg, config_file)
    for key, value in (args_overrides or {}).items():
        merge_from_list(cfg, [key, value], source="command-line arguments")
    merge_from_list(cfg, opts)
    cfg.freeze()
    return cfg
