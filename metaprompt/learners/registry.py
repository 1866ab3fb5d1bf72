"""The learner registry: the one list of prompt learners that everything else reads.

A learner is one module of this package. It holds its tensors and where they go (a
:class:`~metaprompt.learners.base.PromptLearner` subclass) and a frozen config dataclass whose
fields *are* its yacs node: the field names are the node's keys (``N_CTX``, ``CTX_INIT`` ...)
and their defaults are the node's defaults, written nowhere else. The module registers both with
:func:`register_learner`, and from that one entry come:

* the trainer ``--trainer <name>`` and its node ``cfg.TRAINER.<node>`` (``trainers/learners.py``);
* the ``BASE`` choices of ProMetaR and GRAM (entries with ``meta_base`` set);
* the results tables' method order (registration order, ``method_order``);
* the sweep scripts' default recipe (``python -m metaprompt.learners.recipes``);
* the tests' learner tables.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from yacs.config import CfgNode as CN

from ..errors import ConfigError


@dataclass(frozen=True)
class LearnerEntry:
    name: str  # the trainer's name: --trainer, TRAINER.<META>.BASE, the results tables
    node: str  # its config node, cfg.TRAINER.<node>
    learner: type  # a PromptLearner subclass with from_config(config, token_embedding, vision_width, n_cls)
    config: type  # frozen dataclass: field names are the node's keys, defaults its defaults
    recipe: str  # the published recipe the scripts default to (configs/trainers/<name>/<recipe>.yaml)
    dataset_recipes: Mapping[str, str] = field(default_factory=dict)  # dataset -> recipe where it differs
    # Why ProMetaR and GRAM cannot wrap it (empty: they can). One line, shown on a bad BASE.
    not_a_meta_base: str = ""
    # Where the learner's release keeps its keys elsewhere: (key, value) as the release's YAML and
    # opts write them -> (key, value) here, so its files load unchanged (None: nothing to translate).
    release_keys: Callable[[str, Any], tuple[str, Any]] | None = None

    @property
    def meta_base(self) -> bool:
        return not self.not_a_meta_base

    def default_recipe(self, dataset: str) -> str:
        return self.dataset_recipes.get(dataset, self.recipe)

    def read_config(self, node: Mapping[str, Any]) -> Any:
        """The config dataclass from a node (extra keys, as in ProMetaR's node, are ignored)."""
        return read_config(self.config, node)

    def from_cfg(self, node, token_embedding, vision_width: int, n_cls: int, dataset_name: str = ""):
        return self.learner.from_config(self.read_config(node), token_embedding, vision_width, n_cls, dataset_name)


_REGISTRY: dict[str, LearnerEntry] = {}


def register_learner(name: str, node: str, config: type, recipe: str, dataset_recipes: Mapping[str, str] | None = None,
                     not_a_meta_base: str = "",
                     release_keys: Callable[[str, Any], tuple[str, Any]] | None = None) -> Callable[[type], type]:
    """Class decorator: add a learner to the registry (registration order is the tables' order)."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"{name}: the config of a learner must be a dataclass, got {config!r}")

    def add(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name].learner.__qualname__ != cls.__qualname__:
            raise ValueError(f"Two learners are registered as {name!r}: {_REGISTRY[name].learner} and {cls}")
        cls.Config = config
        _REGISTRY[name] = LearnerEntry(name, node, cls, config, recipe, dict(dataset_recipes or {}), not_a_meta_base,
                                       release_keys)
        return cls

    return add


def learner_names(meta_base: bool = False) -> tuple[str, ...]:
    """Registered learners in registration order (``meta_base``: only those ProMetaR and GRAM wrap)."""
    return tuple(n for n, e in _REGISTRY.items() if e.meta_base or not meta_base)


def entries() -> tuple[LearnerEntry, ...]:
    return tuple(_REGISTRY.values())


def get_learner(name: str, what: str = "learner") -> LearnerEntry:
    """The entry of ``name``; an unknown name is one :class:`ConfigError` listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"Unknown {what} {name!r}; the registered learners are: {', '.join(_REGISTRY)} "
                          "(names are case-sensitive).") from None


def get_meta_base(name: str, key: str) -> LearnerEntry:
    """The learner a meta method (``key``: its config key, e.g. ``TRAINER.GRAM.BASE``) wraps."""
    choices = ", ".join(learner_names(meta_base=True))
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ConfigError(f"{key}={name!r} is not a registered learner; choose one of {choices}.")
    if not entry.meta_base:
        raise ConfigError(f"{key}={name!r} cannot be wrapped: {entry.not_a_meta_base} Choose one of {choices}.")
    return entry


def _yacs_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def config_node(config: type) -> CN:
    """The yacs node of a config dataclass: its fields and their defaults, in field order."""
    node = CN()
    for f in dataclasses.fields(config):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            raise TypeError(f"{config.__name__}.{f.name} needs a default: it is a config node's key")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        node[f.name] = _yacs_value(default)
    return node


def read_config(config: type, node: Mapping[str, Any]) -> Any:
    return config(**{f.name: node[f.name] for f in dataclasses.fields(config)})
