"""The compute floor of a forward pass: the arithmetic its convolutions do,
counted from the operators it dispatches, and a float32 matrix product to
time beside it as the rate the machine reaches.

The benchmark tools use them to say how close to that rate a model runs, so
a speed target can be checked against what the arithmetic allows.
"""
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode


@dataclass
class ConvWork:
    """Multiply-accumulates of the convolutions of one call.

    Attributes:
        macs: Every kernel tap at every output position counted, as FLOP
            counters count them.
        effective_macs: Only the taps that fall inside the input; the taps
            over zero padding (most of a large dilation's taps on a small
            map) need no arithmetic.
    """
    macs: int = 0
    effective_macs: int = 0

    def seconds_at(self, flops_per_second: float) -> float:
        """The least time the effective arithmetic (two FLOP per
        multiply-accumulate) takes at ``flops_per_second``."""
        return 2 * self.effective_macs / flops_per_second


def taps_inside(in_size: int, out_size: int, kernel: int, stride: int,
                padding: int, dilation: int) -> int:
    """(output position, kernel tap) pairs along one axis whose input index
    lies inside ``[0, in_size)``."""
    total = 0
    for tap in range(kernel):
        offset = tap * dilation - padding  # input index = o * stride + offset
        first = max(0, -(offset // stride))  # ceil(-offset / stride)
        last = min(out_size - 1, (in_size - 1 - offset) // stride)
        total += max(0, last - first + 1)
    return total


class _ConvCounter(TorchDispatchMode):
    """Adds the work of every convolution dispatched inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.work = ConvWork()
        self._convolution = torch.ops.aten.convolution.default
        self._fused = getattr(
            getattr(torch.ops.mkldnn, '_convolution_pointwise', None),
            'default', None)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is self._convolution:
            x, weight, _, stride, padding, dilation, transposed = args[:7]
            if transposed:
                raise NotImplementedError(
                    'transposed convolutions are not counted')
            self._add(x, weight, out, stride, padding, dilation)
        elif func is self._fused:
            x, weight, _, padding, stride, dilation = args[:6]
            self._add(x, weight, out, stride, padding, dilation)
        return out

    def _add(self, x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor,
             stride: Sequence[int], padding: Sequence[int],
             dilation: Sequence[int]) -> None:
        per_position = weight.shape[1]  # input channels per group
        outputs = out.shape[0] * out.shape[1]
        kernel = weight.shape[2:]
        self.work.macs += (outputs * per_position * math.prod(out.shape[2:]) *
                           math.prod(kernel))
        self.work.effective_macs += outputs * per_position * math.prod(
            taps_inside(*sizes) for sizes in zip(
                x.shape[2:], out.shape[2:], kernel, stride, padding,
                dilation))


def count_conv_work(fn: Callable[[], Any]) -> ConvWork:
    """Run ``fn`` once and count the work of the convolutions it runs
    (``aten.convolution`` and oneDNN's fused convolution)."""
    counter = _ConvCounter()
    with counter:
        fn()
    return counter.work


def matmul_step(size: int = 2048) -> Tuple[Callable[[], None], int]:
    """A float32 ``size`` x ``size`` matrix product on the CPU (torch's
    threads) and its FLOP count.

    Timed beside a model, in the same rounds, it gives the rate the
    machine's BLAS reaches under the same conditions: on a shared machine
    that rate moves by tens of percent from one minute to the next.
    """
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    return (lambda: torch.mm(a, b)), 2 * size**3
