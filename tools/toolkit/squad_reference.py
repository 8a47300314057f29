"""A plain, per-expert SquadNet: the oracle for the fused implementation.

Written directly from the published recipe with no fusion of any kind: one
module per expert run in a Python loop, the channel shuffle as a real tensor
shuffle, separate convolution and BatchNorm. Parameter names match
:class:`mmsquad.models.SquadNet`, so either loads the other's state dict.
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from mmsquad.models.backbones.squadnet import SquadNet
from mmsquad.models.layers.checkpointing import run_layer


def _shuffle(x: Tensor, groups: int) -> Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(
        n, c, h, w)


class RefConvBN(nn.Module):
    """Conv (no bias) - BatchNorm - optional GELU."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1,
                 groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups,
                              bias=False)
        self.norm = nn.BatchNorm2d(cout)
        self.act = nn.GELU() if act else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.conv(x))
        return self.act(x) if self.act is not None else x


class RefMLP(nn.Module):
    """1x1 - BN - GELU, 3x3 depthwise - BN, 1x1 - BN - GELU."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.pw1 = RefConvBN(channels, hidden)
        self.dw = RefConvBN(hidden, hidden, 3, groups=hidden, act=False)
        self.pw2 = RefConvBN(hidden, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.pw2(self.dw(self.pw1(x)))


class RefSquadBlock(nn.Module):
    """Per-expert squad block with an explicit channel shuffle."""

    def __init__(self, c: int, num_tasks: int, num_shared: int,
                 ratio: float, shuffle: bool) -> None:
        super().__init__()
        self.c, self.num_tasks = c, num_tasks
        self.groups = num_tasks + num_shared if shuffle else 0
        self.experts = nn.ModuleList(
            RefMLP(c, int(c * ratio)) for _ in range(num_tasks))
        n = c * (num_tasks + num_shared)
        self.aggregation = RefMLP(n, int(n * ratio))

    def forward(self, x: Tensor) -> Tensor:
        chunks: List[Tensor] = []
        for t, expert in enumerate(self.experts):
            chunks.append(expert(x[:, t * self.c:(t + 1) * self.c]))
        y = torch.cat(chunks + [x[:, self.num_tasks * self.c:]], dim=1)
        if self.groups:
            y = _shuffle(y, self.groups)
        return x + self.aggregation(y)


class RefDownsample(nn.Module):
    """Two-branch stride-2 unit with an explicit shuffle."""

    def __init__(self, n: int, shuffle_groups: int, ratio: float) -> None:
        super().__init__()
        self.branch_a = nn.Sequential(
            RefConvBN(n, n, 3, 2, groups=n, act=False), RefConvBN(n, n))
        self.branch_b = nn.Sequential(
            RefConvBN(n, n), RefConvBN(n, n, 3, 2, groups=n, act=False),
            RefConvBN(n, n))
        self.shuffle_groups = shuffle_groups
        self.aggregation = RefMLP(2 * n, int(2 * n * ratio))

    def forward(self, x: Tensor) -> Tensor:
        y = torch.cat([self.branch_a(x), self.branch_b(x)], dim=1)
        if self.shuffle_groups:
            y = _shuffle(y, self.shuffle_groups)
        return self.aggregation(y)


class ReferenceSquadNet(nn.Module):
    """The oracle SquadNet for an arch name or dict, with ``num_tasks``;
    ``with_cp`` checkpoints every block and downsampling as SquadNet's
    ``with_cp`` does."""

    def __init__(self, arch='small', num_tasks: int = 4,
                 out_indices: Optional[Tuple[int, ...]] = (0, 1, 2),
                 with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        a = (SquadNet.arch_settings[arch] if isinstance(arch, str)
             else arch)
        groups = num_tasks + a['num_shared']
        c0 = a['channels'][0] * groups
        self.out_indices = out_indices
        self.stem = nn.Sequential(
            RefConvBN(3, c0, 3, 2), RefConvBN(c0, c0, 3, groups=c0),
            RefConvBN(c0, c0))
        self.stages = nn.ModuleList()
        for i, c in enumerate(a['channels']):
            stage = nn.Sequential()
            if i > 0:
                shuffle = 2 * groups if a['channel_shuffle'][i - 1] else 0
                stage.append(RefDownsample(a['channels'][i - 1] * groups,
                                           shuffle, a['mlp_ratios'][i - 1]))
            for _ in range(a['depths'][i]):
                stage.append(RefSquadBlock(c, num_tasks, a['num_shared'],
                                           a['mlp_ratios'][i],
                                           a['channel_shuffle'][i]))
            self.stages.append(stage)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            for layer in stage:
                x = run_layer(layer, x, self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
