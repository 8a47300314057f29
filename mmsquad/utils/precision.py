"""Numeric precision for inference (``--precision fp32|bf16|fp16``)."""
import contextlib
from typing import ContextManager

import torch

PRECISIONS = {'fp32': torch.float32, 'bf16': torch.bfloat16,
              'fp16': torch.float16}


def cpu_supports_bfloat16() -> bool:
    """Whether oneDNN runs bfloat16 here: natively (see
    :func:`cpu_bfloat16_is_native`) or emulated with AVX-512, which is
    slower than float32."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cpu_bfloat16_is_native() -> bool:
    """Whether the CPU computes bfloat16 in hardware (avx512_bf16 or AMX),
    where bfloat16 is faster than float32."""
    return bool(torch.cpu._is_avx512_bf16_supported() or
                torch.cpu._is_amx_tile_supported())


def precision_dtype(precision: str, device: str = 'cpu') -> torch.dtype:
    """The dtype of ``precision`` on ``device``, checked.

    Raises:
        ValueError: For an unknown name, float16 without CUDA, or bfloat16
            on a device without bfloat16 support.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'unknown precision {precision!r}; expected one '
                         f'of {", ".join(PRECISIONS)}')
    on_cuda = str(device).startswith('cuda')
    if precision == 'fp16' and not on_cuda:
        raise ValueError('precision fp16 needs a CUDA device; on the CPU '
                         'use bf16')
    if precision == 'bf16' and not (torch.cuda.is_bf16_supported() if on_cuda
                                    else cpu_supports_bfloat16()):
        raise ValueError(f'precision bf16: {device} has no bfloat16 support '
                         '(on the CPU: avx512_bf16 or AMX); use fp32')
    return PRECISIONS[precision]


def autocast(precision: str, device: str = 'cpu') -> ContextManager:
    """``torch.autocast`` in ``precision`` on ``device`` (nothing for
    fp32)."""
    dtype = precision_dtype(precision, device)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=str(device).split(':')[0], dtype=dtype)
