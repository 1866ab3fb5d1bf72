"""Meta-learning machinery shared by ProMetaR and GRAM."""
from .functional import (GradientModulator, double_backward_attention, inner_step, prompt_grads, sgd_step)

__all__ = ["GradientModulator", "double_backward_attention", "inner_step", "prompt_grads", "sgd_step"]
