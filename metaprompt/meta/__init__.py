"""Meta-learning machinery shared by ProMetaR and GRAM."""
from .functional import (GradientModulator, GradientStreams, double_backward_attention, inner_step, loss_gradients,
                         prompt_grads, sgd_step)

__all__ = ["GradientModulator", "GradientStreams", "double_backward_attention", "inner_step", "loss_gradients",
           "prompt_grads", "sgd_step"]
