"""``import metaprompt.dassl_plugin``: ProMetaR and GRAM inside an existing CoOp-family checkout.

One line in a CoOp, MaPLe or ProMetaR repository's ``train.py`` (anywhere among its imports), and
``--trainer ProMetaR`` / ``--trainer GRAM`` with this project's configs run through that repo's
own ``train.py`` and shell scripts. What the import does (docs/dassl.md, "Drop-in"):

* **Names stay the checkout's.** The checkout's own trainers and datasets (``CoOp``, ``MaPLe``,
  ``OxfordPets`` ...) keep their names; this project's classes of the same names are not
  registered. Both import orders work: imported *after* the checkout's ``import trainers.*``,
  :func:`metaprompt.runtime._register` finds the name held by a class from outside the project
  and leaves it; imported *before*, the registries let a later registration from outside the
  project replace this project's entry (Dassl would raise "already registered"). Either way the
  names left to the checkout are printed once, at the first registry lookup (by then every import
  of ``train.py`` has run, and the line lands in ``log.txt``).
* **Config keys without editing ``setup_cfg``.** The checkout builds its config with
  ``get_cfg_default()`` then its own ``extend_cfg``. Dassl's ``get_cfg_default`` clones one
  module-level default node (so does the built-in runtime's), so this project's keys
  (``TRAINER.PROMETAR``, ``TRAINER.GRAM``, ``OPTIM_VNET``, ``MODEL.BACKBONE.PATH`` ...) are added
  to that node in place: every config the checkout builds has them, whatever name its
  ``train.py`` bound ``get_cfg_default`` to. The checkout's ``extend_cfg`` then replaces the nodes
  it defines itself (``TRAINER.COOP``, ``TRAINER.MAPLE`` ...), so those keep its defaults.
* **CLIP.** The project's CLIP code cannot be shadowed by the checkout's patched ``clip/``
  folder (:mod:`metaprompt.clip.openai`); the checkout's trainers keep theirs.
* **Errors.** This project's user errors raised in the checkout's ``main`` print as one ``error:``
  line (an ``excepthook``; the exit status stays Python's 1), others keep their traceback.
* **Runtime.** A forced built-in runtime (``METAPROMPT_RUNTIME=builtin``) while the checkout runs
  on Dassl would register the trainers where Dassl's ``build_trainer`` never looks: one
  ``error:`` line and exit status 2.
"""
from __future__ import annotations

import importlib
import sys

from yacs.config import CfgNode

from . import runtime
from .config import extend_cfg
from .errors import UserInputError


class PluginError(UserInputError):
    """The plugin cannot work in this process (a runtime other than the checkout's)."""


def check_runtime() -> None:
    """The checkout's ``train.py`` uses ``dassl``'s registries: they must be the ones we register in."""
    if runtime.BACKEND == "dassl" or runtime.dassl_install() is None:
        return
    try:
        dassl_engine = importlib.import_module("dassl.engine")
    except ImportError:
        return  # no usable Dassl: the checkout's own `from dassl ...` lines say so
    if getattr(dassl_engine, "TRAINER_REGISTRY", None) is not runtime.TRAINER_REGISTRY:
        raise PluginError(
            f"METAPROMPT_RUNTIME=builtin forces the built-in runtime, but this train.py builds its trainers with "
            f"Dassl ({runtime.dassl_install()}), so ProMetaR and GRAM would be registered where it never looks. "
            "Unset METAPROMPT_RUNTIME (or set it to dassl) to run them from this checkout.")


def defaults_node() -> CfgNode:
    """The node the runtime's ``get_cfg_default()`` clones (Dassl's ``dassl.config.cfg_default``)."""
    module = sys.modules[runtime.get_cfg_default.__module__]
    for name in ("cfg_default", "_C"):
        node = getattr(module, name, None)
        if isinstance(node, CfgNode):
            return node
    raise PluginError(f"{module.__name__}.get_cfg_default does not clone a module-level default config, so the "
                      "keys of ProMetaR and GRAM cannot be added to it. Call metaprompt.config.extend_cfg(cfg) "
                      "in this train.py's setup_cfg instead.")


def add_default_keys() -> None:
    node = defaults_node()
    extend_cfg(node)
    if "PROMETAR" not in runtime.get_cfg_default().TRAINER:
        raise PluginError(f"{runtime.get_cfg_default.__module__}.get_cfg_default does not return copies of its "
                          "module-level defaults. Call metaprompt.config.extend_cfg(cfg) in this train.py's "
                          "setup_cfg instead.")


_noted = False


def note_left_to_checkout() -> None:
    """Print once which names stay the checkout's (stdout: Dassl's logger copies it into log.txt)."""
    global _noted
    if _noted or not runtime.LEFT_TO_CHECKOUT:
        return
    _noted = True
    names = ", ".join(f"{name} ({module})" for name, module in sorted(runtime.LEFT_TO_CHECKOUT.items()))
    print(f"metaprompt: names this checkout registers itself stay its own; the project's classes of these names "
          f"are not registered: {names}")


def yield_names_to_checkout(registry) -> None:
    """Let a registration from outside the project replace this project's entry of the same name,
    and note the names left to the checkout at the first lookup. Patches this one registry object."""
    register, get, registered_names = registry._do_register, registry.get, registry.registered_names

    def _do_register(name, obj, force=False):
        existing = registry._obj_map.get(name)
        if existing is not None and runtime.is_project_class(existing) and not runtime.is_project_class(obj):
            registry._obj_map[name] = obj
            runtime.LEFT_TO_CHECKOUT[name] = obj.__module__
            return
        register(name, obj, force=force)

    def _get(name):
        note_left_to_checkout()
        return get(name)

    def _registered_names():
        note_left_to_checkout()
        return registered_names()

    registry._do_register, registry.get, registry.registered_names = _do_register, _get, _registered_names


def one_line_errors(previous=None):
    """An ``excepthook`` that prints this project's user errors (missing weights, an unknown key, no
    GRAM artefact ...) as the one ``error:`` line ``train.py`` prints here, instead of a traceback
    through the checkout's ``main``; every other exception goes to ``previous``."""
    previous = previous or sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, UserInputError):
            print(f"error: {exc}", file=sys.stderr)
        else:
            previous(exc_type, exc, tb)

    hook.metaprompt_plugin = True
    return hook


def install() -> None:
    check_runtime()
    if not getattr(sys.excepthook, "metaprompt_plugin", False):
        sys.excepthook = one_line_errors(sys.excepthook)
    add_default_keys()
    for registry in (runtime.TRAINER_REGISTRY, runtime.DATASET_REGISTRY):
        if not getattr(registry, "_metaprompt_plugin", False):
            yield_names_to_checkout(registry)
            registry._metaprompt_plugin = True


try:
    install()
except UserInputError as e:  # imported from a checkout's train.py: one line, as train.py's errors
    print(f"error: {e}", file=sys.stderr)
    raise SystemExit(2) from None
