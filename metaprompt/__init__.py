"""Meta-regularized prompt learning on CLIP, as Dassl/CoOp-compatible trainers.

Importing the package (or a light module of it, such as :mod:`metaprompt.errors`) loads nothing
else. The trainers, datasets and built-in backbones register themselves in the active runtime's
registries (real Dassl when installed, the built-in runtime otherwise) when :func:`register_all`
imports them: building a config does it (:func:`metaprompt.config.extend_cfg`), and so do
``train.py``, the Dassl drop-in and the meta-training commands.
"""
__version__ = "0.1.0"

import importlib
import warnings

# `import clip` uses pkg_resources; its deprecation notice says nothing actionable to our users.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

# The modules whose import registers something, by name: the one place that reaches every layer
# (it runs on use, never at import), so the layers themselves import one way only.
PLUGINS = ("metaprompt.clip", "metaprompt.toyworld", "metaprompt.datasets", "metaprompt.trainers")


def register_all() -> None:
    """Register every trainer, dataset and built-in backbone (idempotent; cheap after the first call)."""
    for name in PLUGINS:
        importlib.import_module(name)
