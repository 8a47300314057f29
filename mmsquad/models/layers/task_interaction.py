"""Building blocks of the published multi-task architectures (MTAN,
PAD-Net, MTI-Net): attention masks, refinement decoders, multi-modal
distillation and feature propagation across tasks.

The residual blocks are mmseg's ResNet blocks and the squeeze-excitation
mmdet's, with the published widths, so the parameter counts are the
published ones.
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.models.layers import SELayer
from mmseg.models.backbones.resnet import BasicBlock, Bottleneck
from torch import Tensor, nn

#: The residual blocks a :class:`ResidualDecoder` stacks.
BLOCKS = {'BasicBlock': BasicBlock, 'Bottleneck': Bottleneck}


def conv_norm(in_channels: int, out_channels: int, norm_cfg: dict,
              bias: bool = False) -> nn.Sequential:
    """A 1x1 convolution and a norm layer (a residual block's shortcut)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, bias=bias),
        build_norm_layer(norm_cfg, out_channels)[1])


def residual_blocks(in_channels: int, channels: int, num_blocks: int,
                    block: str, norm_cfg: dict) -> nn.Sequential:
    """``num_blocks`` residual blocks from ``in_channels`` to ``channels``
    (the first with a projection shortcut when they differ)."""
    if block not in BLOCKS:
        raise ValueError(f'block must be one of {sorted(BLOCKS)}, got '
                         f'{block!r}')
    cls = BLOCKS[block]
    planes = channels // cls.expansion
    layers = []
    for i in range(num_blocks):
        cin = in_channels if i == 0 else channels
        shortcut = conv_norm(cin, channels, norm_cfg) if cin != channels \
            else None
        layers.append(cls(cin, planes, downsample=shortcut,
                          norm_cfg=norm_cfg))
    return nn.Sequential(*layers)


class ResidualDecoder(nn.Module):
    """Residual blocks, then a biased 1x1 convolution to predictions:
    PAD-Net's and MTI-Net's per-task prediction modules.

    Args:
        in_channels: Input channels.
        channels: Channels of the refined features.
        out_channels: Prediction channels.
        block: ``'BasicBlock'`` or ``'Bottleneck'`` (mmseg's).
        num_blocks: Number of blocks.
        norm_cfg: Norm layer config.
    """

    def __init__(self, in_channels: int, channels: int, out_channels: int,
                 block: str = 'BasicBlock', num_blocks: int = 2,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.blocks = residual_blocks(in_channels, channels, num_blocks,
                                      block, norm_cfg)
        self.conv_out = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """``(refined features, predictions)``."""
        feats = self.blocks(x)
        return feats, self.conv_out(feats)


class AttentionMask(nn.Sequential):
    """MTAN's task attention: 1x1 conv, norm, ReLU, 1x1 conv, norm,
    sigmoid (convolutions biased, as published).

    Args:
        in_channels: Input channels.
        channels: Mask channels (the hidden width is a quarter).
        norm_cfg: Norm layer config.
    """

    def __init__(self, in_channels: int, channels: int,
                 norm_cfg: dict = dict(type='BN')) -> None:
        hidden = channels // 4
        super().__init__(
            nn.Conv2d(in_channels, hidden, 1),
            build_norm_layer(norm_cfg, hidden)[1], nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
            build_norm_layer(norm_cfg, channels)[1], nn.Sigmoid())


class SpatialAttention(nn.Module):
    """PAD-Net's distillation unit: ``sigmoid(conv(x)) * conv'(x)``, both
    3x3 and bias-free."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.attention = nn.Conv2d(channels, channels, 3, padding=1,
                                   bias=False)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.attention(x)) * self.conv(x)


class TaskDistillation(nn.Module):
    """Multi-modal distillation: task ``t``'s features plus, for every other
    source task ``s``, :class:`SpatialAttention` of ``s``'s features.

    Args:
        tasks: The tasks that receive distilled features.
        sources: The tasks whose features are distilled (a superset of
            ``tasks``: the auxiliary tasks).
        channels: Channels of every task's features.
    """

    def __init__(self, tasks: Sequence[str], sources: Sequence[str],
                 channels: int) -> None:
        super().__init__()
        missing = sorted(set(tasks) - set(sources))
        if missing:
            raise ValueError(f'distillation needs the features of every task '
                             f'it refines; {missing} are not among the '
                             f'source tasks {list(sources)}')
        self.units = nn.ModuleDict({
            t: nn.ModuleDict({s: SpatialAttention(channels)
                              for s in sources if s != t})
            for t in tasks})

    def forward(self, feats: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return {t: feats[t] + sum(unit(feats[s]) for s, unit in units.items())
                for t, units in self.units.items()}


class FeaturePropagation(nn.Module):
    """MTI-Net's feature propagation module: the tasks' features
    concatenated, weighted by a softmax mask (two BasicBlocks at a quarter
    of the concatenation's width and a 1x1 conv), reduced to one task's
    width,
    then per task a squeeze-excitation (mmdet's ``SELayer``) added to the
    task's own features.

    The softmax runs over groups of ``len(tasks)`` consecutive channels of
    the concatenation, exactly as the published implementation reshapes it
    (``view(B, C // N, N, H, W)``).

    Args:
        tasks: The tasks whose features are propagated.
        channels: Channels of every task's features.
        norm_cfg: Norm layer config.
    """

    def __init__(self, tasks: Sequence[str], channels: int,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.tasks = list(tasks)
        shared = channels * len(self.tasks)
        self.mask = nn.Sequential(
            *residual_blocks(shared, shared // 4, 2, 'BasicBlock', norm_cfg),
            nn.Conv2d(shared // 4, shared, 1))
        self.reduce = residual_blocks(shared, channels, 1, 'BasicBlock',
                                      norm_cfg)
        self.excitation = nn.ModuleDict(
            {t: SELayer(channels) for t in self.tasks})

    def forward(self, feats: Dict[str, Tensor]) -> Dict[str, Tensor]:
        concat = torch.cat([feats[t] for t in self.tasks], dim=1)
        b, c, h, w = concat.shape
        groups = (b, c // len(self.tasks), len(self.tasks), h, w)
        mask = F.softmax(self.mask(concat).view(groups), dim=2)
        shared = self.reduce((mask * concat.view(groups)).view(b, c, h, w))
        return {t: self.excitation[t](shared) + feats[t] for t in self.tasks}


def upsample_like(x: Tensor, like: Tensor) -> Tensor:
    """``x`` resized bilinearly to ``like``'s spatial size."""
    return F.interpolate(x, size=like.shape[-2:], mode='bilinear',
                         align_corners=False)


def concat_levels(feats: Sequence[Tensor]) -> Tensor:
    """Every level upsampled to the first's size and concatenated (HRNet's
    fusion of its branches)."""
    return torch.cat([feats[0]] + [upsample_like(f, feats[0])
                                   for f in feats[1:]], dim=1)

