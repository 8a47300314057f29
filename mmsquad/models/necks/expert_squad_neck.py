"""Expert-squad neck: multi-level features -> per-task features."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmsquad.registry import MODELS
from ..feature_spec import SquadFeatureSpec
from ..layers import ConvNormAct, SquadBlock, run_layer


@MODELS.register_module()
class ExpertSquadNeck(BaseModule):
    """Give every task its own channel group plus the shared groups.

    On a backbone that advertises :class:`SquadFeatureSpec` (SquadNet),
    routing is all it does: task ``t`` gets ``concat(task group t, shared
    groups)`` at every selected level. On any other backbone it first
    projects each level into ``num_tasks`` task groups and ``num_shared``
    shared groups (1x1 conv) and runs ``num_blocks`` squad blocks there, so
    the backbone gains task experts.

    Args:
        tasks: Task names; task ``i`` owns group ``i``.
        feature_specs: Specs of the backbone outputs (SquadNet backbones;
            :class:`~mmsquad.models.MultiTaskModel` fills this in).
        in_channels: Channels of the backbone outputs (other backbones).
        in_strides: Strides of the backbone outputs (other backbones;
            :class:`~mmsquad.models.MultiTaskModel` fills them in), which
            the neck's outputs advertise.
        levels: Indices of the backbone outputs to use; all by default.
        channels_per_group: Group width per selected level (int or list),
            other backbones only.
        num_shared: Shared groups, other backbones only.
        num_blocks: Squad blocks per level, other backbones only.
        mlp_ratio: Hidden width ratio of those blocks.
        channel_shuffle: Channel shuffle in those blocks.
        with_cp: Gradient checkpointing of the projection and of every
            block (other backbones only).
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 feature_specs: Optional[Sequence[SquadFeatureSpec]] = None,
                 in_channels: Optional[Sequence[int]] = None,
                 in_strides: Optional[Sequence[int]] = None,
                 levels: Optional[Sequence[int]] = None,
                 channels_per_group: Union[int, Sequence[int]] = 32,
                 num_shared: int = 1,
                 num_blocks: int = 1,
                 mlp_ratio: float = 1.0,
                 channel_shuffle: bool = True,
                 with_cp: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tasks = list(tasks)
        self.with_cp = with_cp
        if (feature_specs is None) == (in_channels is None):
            raise ValueError('ExpertSquadNeck needs exactly one of '
                             '`feature_specs` (SquadNet backbones) and '
                             '`in_channels` (other backbones)')
        num_inputs = len(feature_specs or in_channels)
        self.levels = list(range(num_inputs)) if levels is None else list(
            levels)
        for level in self.levels:
            if not -num_inputs <= level < num_inputs:
                raise IndexError(f'neck level {level} is out of range for '
                                 f'{num_inputs} backbone outputs')
        if feature_specs is not None:
            self.projections = None
            specs = [feature_specs[i] for i in self.levels]
            for spec in specs:
                if spec.num_tasks != len(self.tasks):
                    raise ValueError(
                        f'the backbone has {spec.num_tasks} task groups but '
                        f'the model has {len(self.tasks)} tasks '
                        f'{self.tasks}; set the backbone num_tasks to match')
        else:
            widths = ([channels_per_group] * len(self.levels)
                      if isinstance(channels_per_group, int) else
                      list(channels_per_group))
            if len(widths) != len(self.levels):
                raise ValueError(f'channels_per_group has {len(widths)} '
                                 f'entries for {len(self.levels)} levels')
            groups = len(self.tasks) + num_shared
            self.projections = nn.ModuleList()
            specs = []
            for level, c in zip(self.levels, widths):
                self.projections.append(nn.Sequential(
                    ConvNormAct(in_channels[level], c * groups, 1,
                                norm_cfg=norm_cfg, act_cfg=act_cfg),
                    *[SquadBlock(c, len(self.tasks), num_shared, mlp_ratio,
                                 channel_shuffle, norm_cfg, act_cfg)
                      for _ in range(num_blocks)]))
                specs.append(SquadFeatureSpec(
                    channels=c * groups, group_channels=c,
                    num_tasks=len(self.tasks), num_shared=num_shared,
                    stride=None if in_strides is None else in_strides[level]))
        self.specs: Tuple[SquadFeatureSpec, ...] = tuple(specs)

    @property
    def out_strides(self) -> Optional[Tuple[int, ...]]:
        """Strides of every output level (None where they are unknown:
        neither ``feature_specs`` nor ``in_strides`` gave them)."""
        strides = tuple(s.stride for s in self.specs)
        return None if None in strides else strides

    @property
    def out_channels(self) -> Dict[str, Tuple[int, ...]]:
        """Channels of every task's features, per level."""
        return {t: tuple(s.task_feature_channels for s in self.specs)
                for t in self.tasks}

    def _project(self, projection: nn.Sequential, x: Tensor) -> Tensor:
        for layer in projection:
            x = run_layer(layer, x, self.with_cp)
        return x

    def forward(self, feats: Sequence[Tensor]
                ) -> Dict[str, Tuple[Tensor, ...]]:
        """Map backbone outputs to ``{task: (level features, ...)}``."""
        selected = [feats[i] for i in self.levels]
        if self.projections is not None:
            selected = [self._project(proj, x)
                        for proj, x in zip(self.projections, selected)]
        routed: Dict[str, List[Tensor]] = {t: [] for t in self.tasks}
        for x, spec in zip(selected, self.specs):
            # The layout is [task 0, ..., task T-1, shared]; a split (not
            # slices) gives the backward one concatenation, no zero fills.
            *task_parts, shared = x.split(
                [hi - lo for lo, hi in spec.task_ranges + (
                    spec.shared_range, )], dim=1)
            for task, part in zip(self.tasks, task_parts):
                routed[task].append(torch.cat([part, shared], dim=1))
        return {t: tuple(v) for t, v in routed.items()}
