"""mmcv layers whose ops run on accelerators only, and the refusal of a
model holding one where none is available."""
from typing import Dict

from mmcv.ops import (CARAFE, BorderAlign, CARAFENaive, CARAFEPack,
                      Correlation, DeformRoIPool, MaskedConv2d, PrRoIPool,
                      RoIPool, TINShift)
from torch import nn

#: mmcv layers (and their subclasses: ``DeformRoIPoolPack``, ...) -> the
#: op they run, named as its source in mmcv's ``ops/csrc/pytorch``: mmcv
#: builds these ops for CUDA and other
#: accelerators, with no CPU kernel (``ops/csrc/pytorch/cpu`` holds none:
#: tested against the installed mmcv). ``MaskedConv2d`` needs it once
#: given a mask (guided anchoring's prediction).
ACCELERATOR_ONLY: Dict[type, str] = {
    CARAFE: 'carafe',
    CARAFENaive: 'carafe_naive',
    CARAFEPack: 'carafe',
    MaskedConv2d: 'masked_conv2d',
    DeformRoIPool: 'deform_roi_pool',
    RoIPool: 'roi_pool',
    BorderAlign: 'border_align',
    PrRoIPool: 'prroi_pool',
    TINShift: 'tin_shift',
    Correlation: 'correlation',
}


def refuse_accelerator_only(model: nn.Module, device: str) -> None:
    """Refuse a model that holds a layer of :data:`ACCELERATOR_ONLY` when
    it can only run on the CPU (mmcv would fail at the first iteration, or
    at the first prediction).

    Args:
        model: The model.
        device: Where it can run: mmengine's ``get_device()``.

    Raises:
        ValueError: Naming the first such layer, its op and what to do.
    """
    if device != 'cpu':
        return
    for name, module in model.named_modules():
        op = next((op for cls, op in ACCELERATOR_ONLY.items()
                   if isinstance(module, cls)), None)
        if op is not None:
            raise ValueError(
                f'{name} ({type(module).__name__}) runs mmcv\'s {op} op, '
                'which mmcv builds for CUDA and other accelerators only, and '
                'this machine has none (torch sees no GPU): train this model '
                'where a GPU is available, or configure a layer with a CPU '
                'kernel instead')
