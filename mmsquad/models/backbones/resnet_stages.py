"""A ResNet-family backbone (mmseg's, mmdet's or mmpretrain's) run one
named stage at a time, for the architectures that act between stages."""
from typing import List, Tuple

import torch
from torch import Tensor, nn

from ..utils.feature_probe import feature_shapes

#: The stage the stem (first convolutions and max-pool) is named by.
STEM = 'stem'


def stage_names(backbone: nn.Module) -> List[str]:
    """``['stem', 'layer1', ...]``: the stem, then the residual layers.

    Raises:
        TypeError: For a backbone without ResNet's layout (``res_layers``
            naming ``nn.Sequential`` layers of blocks, and a stem as
            ``conv1``/``norm1``/``relu`` or ``stem``, then ``maxpool``).
    """
    layers = getattr(backbone, 'res_layers', None)
    if layers is None or not all(isinstance(getattr(backbone, name, None),
                                            nn.Sequential)
                                 for name in layers):
        raise TypeError(
            f'{type(backbone).__name__} has no named stages: a backbone run '
            'stage by stage needs ResNet\'s layout (`res_layers`, each an '
            'nn.Sequential of blocks, after a stem), as mmseg\'s, mmdet\'s '
            'and mmpretrain\'s ResNet, ResNetV1c/V1d and ResNeXt have')
    return [STEM] + list(layers)


def forward_stage(backbone: nn.Module, name: str, x: Tensor) -> Tensor:
    """Run stage ``name`` of ``backbone`` (see :func:`stage_names`)."""
    if name != STEM:
        return getattr(backbone, name)(x)
    if getattr(backbone, 'deep_stem', False):
        x = backbone.stem(x)
    else:
        x = backbone.relu(backbone.norm1(backbone.conv1(x)))
    return backbone.maxpool(x)


def stage_modules(backbone: nn.Module, name: str) -> List[nn.Module]:
    """The modules that hold the parameters of stage ``name``."""
    if name != STEM:
        return [getattr(backbone, name)]
    if getattr(backbone, 'deep_stem', False):
        return [backbone.stem]
    return [backbone.conv1, backbone.norm1]


def probe_stages(backbone: nn.Module, in_channels: int = 3, size: int = 64
                 ) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """``(channels, strides)`` of the output of every stage, from one
    forward of a zero input in eval mode without gradients (the mode is
    restored)."""
    was_training = backbone.training
    backbone.eval()
    outputs = []
    try:
        with torch.no_grad():
            x = torch.zeros(1, in_channels, size, size,
                            device=next(backbone.parameters()).device)
            for name in stage_names(backbone):
                x = forward_stage(backbone, name, x)
                outputs.append(x)
    finally:
        backbone.train(was_training)
    return feature_shapes(outputs, (size, size))
