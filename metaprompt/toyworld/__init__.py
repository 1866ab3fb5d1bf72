"""A CPU-scale world where base-to-new generalization is real (see docs/toyworld.md).

Procedurally rendered scenes (:mod:`.render`), their captions (:mod:`.captions`), a tiny CLIP
pretrained on them (:mod:`.pretrain`, shipped as the ``toy-vit`` and ``toy-vit-l12`` backbones by
:mod:`.model`; the second learns the words of CLIP's templates from :mod:`.template_world`) and
downstream tasks whose new classes the model can name zero-shot (:mod:`.tasks`; the datasets
themselves live in ``metaprompt.datasets.toy``).
"""
from . import model  # noqa: F401  (registers the toy backbones)
