"""SquadNet backbone (Chen & Er, Neurocomputing 2024)."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmsquad.registry import MODELS
from ..feature_spec import SquadFeatureSpec
from ..layers import (PlainBlock, SquadBlock, SquadDownsample, SquadStem,
                      run_layer)

ARCH_KEYS = ('channels', 'depths', 'num_shared', 'channel_shuffle',
             'mlp_ratios')
BLOCK_TYPES = {'squad': SquadBlock, 'plain': PlainBlock}
#: The published initialisation: Kaiming (fan_out) convolutions, unit-scale
#: norm layers.
DEFAULT_INIT_CFG = [
    dict(type='Kaiming', layer='Conv2d', mode='fan_out'),
    dict(type='Constant', layer=['_BatchNorm', 'GroupNorm'], val=1, bias=0)
]


@MODELS.register_module()
class SquadNet(BaseModule):
    """SquadNet: a backbone of expert squad blocks.

    A stem (stride 2) and three levels of squad blocks with two-branch
    downsampling between them (strides 2, 4, 8). Feature channels are split
    into ``num_tasks`` task groups and ``num_shared`` shared groups;
    :attr:`feature_specs` advertises, for every output, its channels,
    stride and group layout.

    Args:
        arch: ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            ``channels`` (channels per group, per level), ``depths``,
            ``num_shared``, ``channel_shuffle`` (per level) and
            ``mlp_ratios`` (per level).
        num_tasks: Number of task groups (T).
        in_channels: Image channels.
        out_indices: Levels to return.
        frozen_stages: Freeze the stem (0) and levels ``< frozen_stages``
            (a level includes the downsampling in front of it); -1 freezes
            nothing.
        norm_eval: Keep every norm layer in eval mode while training.
        with_cp: Gradient checkpointing of every block and downsampling
            (less memory, one more forward of them in the backward).
            BatchNorm running statistics are updated in both forwards.
        block_type: ``'squad'`` (expert squads) or ``'plain'`` (the "no
            squad" ablation: one expert over all channels, residual kept).
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
        init_cfg: Initialisation config; by default as published: Kaiming
            (fan_out) convolutions, unit-scale norm layers.

    Example:
        >>> import torch
        >>> from mmsquad.models import SquadNet
        >>> net = SquadNet(arch='tiny', num_tasks=2).eval()
        >>> [s.stride for s in net.feature_specs]
        [2, 4, 8]
        >>> net.out_channels  # (2 task + 1 shared groups) x group width
        (96, 192, 384)
        >>> feats = net(torch.rand(1, 3, 64, 64))
        >>> [tuple(f.shape) for f in feats]
        [(1, 96, 32, 32), (1, 192, 16, 16), (1, 384, 8, 8)]
    """

    arch_settings: Dict[str, dict] = {
        'tiny': dict(channels=[32, 64, 128], depths=[2, 2, 2], num_shared=1,
                     channel_shuffle=[True, True, False],
                     mlp_ratios=[1, 1, 1]),
        'small': dict(channels=[32, 64, 128], depths=[4, 4, 4], num_shared=2,
                      channel_shuffle=[True, True, False],
                      mlp_ratios=[1, 1, 1]),
        'base': dict(channels=[32, 64, 128], depths=[8, 8, 8], num_shared=2,
                     channel_shuffle=[True, True, False],
                     mlp_ratios=[1, 1, 1]),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 num_tasks: int = 4,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 block_type: str = 'squad',
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = DEFAULT_INIT_CFG
                 ) -> None:
        super().__init__(init_cfg=copy.deepcopy(init_cfg))
        self.arch = self._parse_arch(arch)
        if num_tasks < 1:
            raise ValueError(f'num_tasks must be >= 1, got {num_tasks}')
        if block_type not in BLOCK_TYPES:
            raise KeyError(f'unknown block_type {block_type!r}; expected one '
                           f'of {sorted(BLOCK_TYPES)}')
        num_levels = len(self.arch['channels'])
        self.out_indices = tuple(
            i % num_levels if i < 0 else i for i in out_indices)
        for i in self.out_indices:
            if not 0 <= i < num_levels:
                raise IndexError(f'out index {i} is out of range for '
                                 f'{num_levels} levels')
        self.num_tasks = num_tasks
        self.in_channels = in_channels
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        groups = num_tasks + self.arch['num_shared']
        block = BLOCK_TYPES[block_type]

        channels = self.arch['channels']
        self.stem = SquadStem(in_channels, channels[0] * groups, norm_cfg,
                              act_cfg)
        self.stages = nn.ModuleList()
        specs = []
        for i, c in enumerate(channels):
            if i > 0 and channels[i] != 2 * channels[i - 1]:
                raise ValueError('every level must double the channels per '
                                 f'group, got {channels}')
            stage = nn.Sequential()
            shuffle = self.arch['channel_shuffle'][i]
            ratio = self.arch['mlp_ratios'][i]
            if i > 0:
                prev = channels[i - 1] * groups
                stage.append(SquadDownsample(
                    prev, 2 * groups if self.arch['channel_shuffle'][i - 1]
                    else 0, self.arch['mlp_ratios'][i - 1], norm_cfg,
                    act_cfg))
            for _ in range(self.arch['depths'][i]):
                stage.append(block(c, num_tasks, self.arch['num_shared'],
                                   ratio, shuffle, norm_cfg, act_cfg))
            self.stages.append(stage)
            specs.append(SquadFeatureSpec(
                channels=c * groups, stride=2**(i + 1), group_channels=c,
                num_tasks=num_tasks, num_shared=self.arch['num_shared']))
        self.level_specs: Tuple[SquadFeatureSpec, ...] = tuple(specs)
        self._freeze_stages()

    @property
    def feature_specs(self) -> Tuple[SquadFeatureSpec, ...]:
        """The contract of every returned feature, in ``out_indices`` order."""
        return tuple(self.level_specs[i] for i in self.out_indices)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of every returned feature."""
        return tuple(s.channels for s in self.feature_specs)

    @property
    def out_strides(self) -> Tuple[int, ...]:
        """Strides of every returned feature."""
        return tuple(s.stride for s in self.feature_specs)

    def _parse_arch(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise KeyError(f'unknown SquadNet arch {arch!r}; expected one '
                               f'of {sorted(self.arch_settings)} or a dict')
            return dict(self.arch_settings[arch])
        arch = dict(arch)
        missing = [k for k in ARCH_KEYS if k not in arch]
        unknown = [k for k in arch if k not in ARCH_KEYS]
        if missing or unknown:
            raise KeyError(f'SquadNet arch dict: missing keys {missing}, '
                           f'unknown keys {unknown}; expected {ARCH_KEYS}')
        lengths = {k: len(arch[k]) for k in ARCH_KEYS if k != 'num_shared'}
        if len(set(lengths.values())) != 1:
            raise ValueError(f'SquadNet arch dict: per-level lists differ in '
                             f'length: {lengths}')
        return arch

    def _check_input(self, x: Tensor) -> None:
        min_size = self.level_specs[-1].stride
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'SquadNet expects images of shape (N, '
                             f'{self.in_channels}, H, W), got '
                             f'{tuple(x.shape)}')
        if min(x.shape[-2:]) < min_size:
            raise ValueError(f'SquadNet needs images of at least {min_size}x'
                             f'{min_size} pixels (its output stride), got '
                             f'{tuple(x.shape[-2:])}')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Return the features of ``out_indices``."""
        self._check_input(x)
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            for layer in stage:
                x = run_layer(layer, x, self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.stem] + list(self.stages[:self.frozen_stages])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'SquadNet':
        """Switch mode, keeping frozen stages (and norms if
        ``norm_eval``) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
