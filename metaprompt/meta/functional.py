"""What ProMetaR and GRAM share: gradients over prompt tensors by name, the gradient-modulation
contract (:class:`GradientModulator`), one functional inner step, and the attention backend that
allows double backward.

Prompt tensors travel as ``dict[name, Tensor]`` keyed by the learner's stable names
(:meth:`PromptLearner.prompt_specs`), never by module paths, so wrapping the model (e.g. for
multiple GPUs) does not change how modulators find their tensors. A forward with adapted
prompts is ``model(images, params=adapted)``: no frozen CLIP weight is cloned.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator, Mapping, Protocol, Sequence

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

Tensors = dict[str, torch.Tensor]


GradientStreams = Mapping[str, Mapping[str, torch.Tensor]]


class GradientModulator(Protocol):
    """The one gradient-modulation contract of ProMetaR's gate and GRAM's regulator.

    ``modulate(streams)`` takes named gradient streams, each ``{prompt name: gradient}`` -
    ``"ce"``, the task loss's gradient, always; ``"reg"``, a regularizer's, for ProMetaR's gate -
    and returns the gradients the prompts step with, keyed by prompt name (same shapes and dtypes
    as ``streams["ce"]``; a name it leaves out keeps its gradient). It is differentiable where its
    inputs are (Step B's inner step differentiates through it) and is used, under ``no_grad``,
    by the trainers' step hook (:meth:`PromptTrainer.apply_modulator`).
    """

    def modulate(self, streams: GradientStreams) -> Tensors: ...


def prompt_grads(loss: torch.Tensor, params: Mapping[str, torch.Tensor], create_graph: bool = False,
                 retain_graph: bool | None = None) -> Tensors:
    """``d loss / d params[name]`` for every name; zeros where the loss does not depend on a tensor."""
    names = [n for n, p in params.items() if p.requires_grad]
    grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=create_graph,
                                retain_graph=retain_graph, allow_unused=True)
    out = {n: (g if g is not None else torch.zeros_like(params[n])) for n, g in zip(names, grads)}
    return out


def batched_prompt_grads(losses: Sequence[torch.Tensor], params: Mapping[str, torch.Tensor],
                         create_graph: bool = False) -> list[Tensors]:
    """``[d loss_i / d params for loss_i in losses]`` in ONE backward pass over the shared graph.

    The losses are stacked and back-propagated with a batch of one-hot cotangents (autograd's
    ``is_grads_batched``, a vmap over the backward): the frozen weights are read once for all of
    them instead of once per loss. Same values as one :func:`prompt_grads` per loss, up to float
    rounding; ``create_graph`` keeps it differentiable (second order).
    """
    dtype = functools.reduce(torch.promote_types, [loss.dtype for loss in losses])
    stacked = torch.stack([loss.to(dtype) for loss in losses])
    names = [n for n, p in params.items() if p.requires_grad]
    eye = torch.eye(len(losses), dtype=dtype, device=stacked.device)
    grads = torch.autograd.grad(stacked, [params[n] for n in names], grad_outputs=eye, is_grads_batched=True,
                                create_graph=create_graph, allow_unused=True)
    return [{n: (g[i] if g is not None else torch.zeros_like(params[n])) for n, g in zip(names, grads)}
            for i in range(len(losses))]


def sgd_step(params: Mapping[str, torch.Tensor], grads: Mapping[str, torch.Tensor], lr: float) -> Tensors:
    """``theta' = theta - lr * g`` for the tensors that have a gradient; differentiable."""
    return {n: (p - lr * grads[n] if n in grads else p) for n, p in params.items()}


def loss_gradients(loss_fn: Callable[[Mapping[str, torch.Tensor]], torch.Tensor]
                   ) -> Callable[[Mapping[str, torch.Tensor], bool], dict[str, Tensors]]:
    """The streams of one loss, ``{"ce": d loss_fn(theta) / d theta}``, for :func:`inner_step`."""
    def streams(params: Mapping[str, torch.Tensor], create_graph: bool) -> dict[str, Tensors]:
        return {"ce": prompt_grads(loss_fn(params), params, create_graph=create_graph)}
    return streams


def inner_step(params: Mapping[str, torch.Tensor],
               gradients: Callable[[Mapping[str, torch.Tensor], bool], GradientStreams], lr: float,
               modulator: GradientModulator | None = None, first_order: bool = False) -> Tensors:
    """One functional adaptation step: ``theta - lr * modulator.modulate(gradients(theta))``.

    ``gradients(theta, create_graph)`` returns the named gradient streams at ``theta`` (see
    :func:`loss_gradients`). Second order (default) keeps their graph so an outer loss
    differentiates through the step; ``first_order`` detaches them (the modulator's own
    parameters still get a gradient through its output). Without a modulator the step follows
    the one stream (``"ce"``).
    """
    streams = gradients(params, not first_order)
    if first_order:
        streams = {s: {n: g.detach() for n, g in grads.items()} for s, grads in streams.items()}
    grads = modulator.modulate(streams) if modulator is not None else streams["ce"]
    return sgd_step(params, grads, lr)


@contextlib.contextmanager
def double_backward_attention() -> Iterator[None]:
    """Math attention: fused SDPA kernels have no double backward (needed by second-order steps)."""
    with sdpa_kernel(SDPBackend.MATH):
        yield
