"""Mixed-precision training on CPUs with bfloat16 units."""
import contextlib

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmsquad.registry import OPTIM_WRAPPERS
from mmsquad.utils.precision import cpu_supports_bfloat16


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Automatic mixed precision on the CPU: the forward pass (and so the
    backward) runs under ``torch.autocast('cpu', dtype=torch.bfloat16)``.

    mmengine's ``AmpOptimWrapper`` asserts a GPU. bfloat16 has float32's
    exponent range, so no loss scaler is needed; parameters, gradients and
    the optimizer state stay in float32. ``tools/train.py --amp`` picks
    this wrapper on a machine without CUDA.

    Raises:
        RuntimeError: Where the CPU has no bfloat16 support: autocast would
            then emulate bfloat16, slower than float32.
    """

    def __init__(self, *args, **kwargs) -> None:
        if not cpu_supports_bfloat16():
            raise RuntimeError(
                f'{type(self).__name__}: this CPU has no bfloat16 support '
                '(avx512_bf16 or AMX); train in float32 (without --amp)')
        super().__init__(*args, **kwargs)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module):
        """The base context (gradient accumulation) under bf16 autocast."""
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=torch.bfloat16):
            yield
