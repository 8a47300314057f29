"""Channels and strides of a module's outputs, measured on a small input."""
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor, nn

Features = Union[Tensor, Sequence[Tensor]]


def feature_shapes(feats: Features, input_size: Sequence[int]
                   ) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """``(channels, strides)`` of every feature level (one tensor or a
    sequence of them) computed from an input of ``input_size`` (H, W)."""
    feats = [feats] if isinstance(feats, Tensor) else list(feats)
    channels = tuple(int(f.shape[1]) for f in feats)
    strides = tuple(int(round(input_size[0] / f.shape[-2])) for f in feats)
    return channels, strides


def probe_features(module: nn.Module, in_channels: int = 3,
                   size: int = 64
                   ) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """``(channels, strides)`` of the feature levels ``module`` returns,
    from one forward of a ``1 x in_channels x size x size`` zero input.

    For backbones that do not advertise them (mmseg's, mmdet's,
    mmpretrain's). The module runs in eval mode without gradients, so
    neither its parameters nor its norm statistics change, and its
    training mode is restored.
    """
    param = next(module.parameters(), None)
    device = param.device if param is not None else 'cpu'
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            feats = module(torch.zeros(1, in_channels, size, size,
                                       device=device))
    finally:
        module.train(was_training)
    return feature_shapes(feats, (size, size))
