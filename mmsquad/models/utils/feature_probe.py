"""Channels and strides of a module's outputs, measured on a small input;
a module tried on features before training."""
import copy
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


def image_channels(backbone: nn.Module) -> int:
    """The channels of the images ``backbone`` takes: its first
    convolution's input channels (3 without one). Not a backbone's
    ``in_channels`` attribute: mmpretrain's EfficientNet, for one, sets it
    to its last stage's width."""
    conv = next((m for m in backbone.modules()
                 if isinstance(m, nn.modules.conv._ConvNd)), None)
    return 3 if conv is None else conv.in_channels


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


#: The class of torch's process groups (none without torch.distributed).
PROCESS_GROUP = getattr(torch.distributed, 'ProcessGroup', ())

#: The input size a hosted head is tried on when built (mmseg's usual
#: training crop): heads whose pooling needs large maps pass.
TRIAL_SIZE = 512


def try_on_features(module: nn.Module, channels: Sequence[int],
                    strides: Sequence[int], size: int = TRIAL_SIZE):
    """Run a meta-device copy of ``module`` once, in eval mode, on features
    of ``channels`` at ``strides`` of a ``size x size`` input: shapes
    only, nothing computed, ``module`` untouched. Returns the (meta)
    outputs, or None when the trial was skipped.

    Raises:
        Exception: What ``module`` raises on such features (a channel
            count, a number of levels, a map too small for a pooling). An
            operator without a meta implementation (some of mmcv's) is
            not an error: the trial is skipped.
    """
    # The copy shares the module's structure and ties; its tensors are
    # meta (deepcopy takes them from the memo, so no data is copied). It
    # shares the process groups layers hold (mmcv's SyncBN): they cannot be
    # copied.
    memo = {id(value): value for layer in module.modules()
            for value in vars(layer).values()
            if isinstance(value, PROCESS_GROUP)}
    for tensor in [*module.parameters(), *module.buffers()]:
        meta = torch.empty_like(tensor, device='meta')
        memo[id(tensor)] = nn.Parameter(meta, tensor.requires_grad) \
            if isinstance(tensor, nn.Parameter) else meta
    trial = copy.deepcopy(module, memo).eval()
    feats = [torch.empty(1, c, max(size // s, 1), max(size // s, 1),
                         device='meta') for c, s in zip(channels, strides)]
    try:
        with torch.no_grad():
            return trial(feats)
    except (RuntimeError, NotImplementedError) as error:
        if 'meta' not in str(error).lower():
            raise
        return None
