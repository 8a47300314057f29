"""Keeping gradients in the memory format of the activations, and
element-wise layers on the fast kernels of channels-last tensors."""
from typing import Callable

import torch
from torch import Tensor

from .eager import runs_eagerly


def memory_format_of(x: Tensor) -> torch.memory_format:
    """``channels_last`` for a channels-last 4-D tensor, else contiguous."""
    if (x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last)):
        return torch.channels_last
    return torch.contiguous_format


class _GradInInputFormat(torch.autograd.Function):
    """Identity whose backward returns the gradient in the input's format."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.memory_format = memory_format_of(x)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        if _is_vmapped(grad):
            # vmap cannot set a memory format; batched backward passes
            # (torchjd's autogram, ``is_grads_batched``) keep the layout.
            return grad
        return grad.contiguous(memory_format=ctx.memory_format)


def _is_vmapped(x: Tensor) -> bool:
    """Whether ``x`` is a batched tensor of ``torch.vmap`` or of the
    batched gradients of ``torch.autograd.grad(..., is_grads_batched=True)``
    (torch has no public test for either)."""
    functorch = torch._C._functorch
    return functorch.is_batchedtensor(x) or \
        functorch.is_legacy_batchedtensor(x)


def grad_in_input_format(x: Tensor) -> Tensor:
    """``x`` itself, whose gradient is made dense in ``x``'s memory format.

    Element-wise backward kernels (BatchNorm, GELU, additions) are several
    times slower on CPU when the gradient and the saved activation differ in
    layout, as when a channels-last activation receives an NCHW gradient
    from a slice, an expand or a reduction downstream. A single copy where
    the layouts meet keeps every kernel upstream on its fast path; it is a
    no-op when they already agree.

    Args:
        x: A tensor.

    Returns:
        ``x`` (a view) in the forward pass.
    """
    if not (torch.is_grad_enabled() and x.requires_grad):
        return x
    return _GradInInputFormat.apply(x)


def in_dense_order(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``fn(x)`` for an element-wise ``fn``, run on a view of ``x`` that is
    contiguous in the order of its memory.

    torch hands GELU and its backward to oneDNN only for tensors contiguous
    in the default (NCHW) order; a channels-last tensor gets ATen's own
    kernels, 1.6x (backward) to 1.8x (forward) slower on the Xeon of
    ``docs/benchmarks.md``. The NHWC permutation of a channels-last tensor
    is a contiguous view of the same memory, so the element-wise result is
    the same and comes back, permuted again, channels-last. Only for
    functions that treat every element alike (no per-channel parameters);
    only eagerly (a traced or compiled graph gets ``fn(x)``).

    Args:
        fn: An element-wise function.
        x: A tensor.

    Returns:
        ``fn(x)``, in ``x``'s memory format.
    """
    if memory_format_of(x) is torch.channels_last and runs_eagerly():
        return fn(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return fn(x)
