"""One trainer per registered learner, and the learners' config nodes, from the learner registry.

A learner's trainer is :class:`PromptTrainer` with the learner's node and class; its node
``cfg.TRAINER.<node>`` is the learner's config dataclass (keys and defaults). A learner whose
training needs more (zero-shot CLIP, PromptSRC) has its own trainer module, marked
:func:`own_trainer`; ``trainers/coop.py`` and the like only keep the CoOp family's import paths.
"""
from __future__ import annotations

from metaprompt.config import config_dialect, config_extension
from metaprompt.learners import config_node, entries, get_learner
from metaprompt.runtime import register_trainer

from .base import PromptTrainer

_TRAINERS: dict[str, type[PromptTrainer]] = {}


@config_extension
def extend_cfg(cfg) -> None:
    for entry in entries():
        cfg.TRAINER[entry.node] = config_node(entry.config)
        if entry.release_keys is not None:  # its release's YAML and opts keep the keys elsewhere
            config_dialect(entry.name, entry.release_keys)


def learner_trainer(name: str, base: type[PromptTrainer] = PromptTrainer, module: str = __name__,
                    **attrs) -> type[PromptTrainer]:
    """The registered trainer of learner ``name`` (made and registered on first call)."""
    if name not in _TRAINERS:
        entry = get_learner(name, "trainer")
        doc = f"{name} trainer: the {entry.learner.__name__} learner, node ``TRAINER.{entry.node}``."
        cls = type(name, (base,), {"CFG_NODE": entry.node, "LEARNER": entry.learner, "__doc__": doc,
                                   "__module__": module, **attrs})
        _TRAINERS[name] = register_trainer(cls)
    return _TRAINERS[name]


def own_trainer(cls: type[PromptTrainer]) -> type[PromptTrainer]:
    """Class decorator for a learner's trainer written by hand (it sets ``CFG_NODE`` and ``LEARNER``)."""
    entry = get_learner(cls.__name__, "trainer")
    if (cls.CFG_NODE, cls.LEARNER) != (entry.node, entry.learner):
        raise TypeError(f"{cls.__name__} must use its registry entry's node TRAINER.{entry.node} and "
                        f"{entry.learner.__name__}")
    _TRAINERS[cls.__name__] = register_trainer(cls)
    return cls


def register_all() -> None:
    """Trainers for every registered learner that has no module of its own."""
    for entry in entries():
        learner_trainer(entry.name)
