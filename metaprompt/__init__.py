"""Meta-regularized prompt learning on CLIP, as Dassl/CoOp-compatible trainers.

Importing the package registers every trainer, dataset and built-in backbone in the active
runtime's registries (real Dassl when installed, the built-in runtime otherwise).
"""
__version__ = "0.1.0"

import warnings

# `import clip` uses pkg_resources; its deprecation notice says nothing actionable to our users.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from . import clip as _clip  # noqa: F401,E402  (built-in backbones)
from . import toyworld as _toyworld  # noqa: F401,E402  (the toy-vit backbone)
from . import datasets as _datasets  # noqa: F401,E402
from . import trainers as _trainers  # noqa: F401,E402
