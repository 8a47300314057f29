"""Expert squad block and the two-branch downsampling between levels."""
from torch import Tensor, nn

import torch

from .conv_norm_act import ConvNormAct
from .memory_format import grad_in_input_format
from .shuffle import shuffle_permutation
from .squad_mlp import GroupedExperts, SquadMLP


class SquadBlock(nn.Module):
    """Task experts on the task groups, shared groups passed through, channel
    shuffle, point-wise aggregation over all channels, residual add.

    The channel layout is ``[task 0, ..., task T-1, shared 0, ..., S-1]``,
    ``channels_per_group`` channels each.

    Args:
        channels_per_group: Channels of one group (C).
        num_tasks: Task groups (T).
        num_shared: Shared groups (S).
        mlp_ratio: Hidden width of experts and aggregation, relative to
            their input width.
        channel_shuffle: Shuffle the T + S groups before the aggregation
            (folded into the aggregation's first convolution).
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
    """

    def __init__(self,
                 channels_per_group: int,
                 num_tasks: int,
                 num_shared: int,
                 mlp_ratio: float = 1.0,
                 channel_shuffle: bool = True,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        c = channels_per_group
        self.task_channels = c * num_tasks
        channels = c * (num_tasks + num_shared)
        self.experts = GroupedExperts(c, int(c * mlp_ratio), num_tasks,
                                      norm_cfg, act_cfg)
        permutation = (shuffle_permutation(channels, num_tasks + num_shared)
                       if channel_shuffle else None)
        self.aggregation = SquadMLP(channels, int(channels * mlp_ratio),
                                    norm_cfg=norm_cfg, act_cfg=act_cfg,
                                    input_permutation=permutation)

    def forward(self, x: Tensor) -> Tensor:
        task_part, shared_part = x.split(
            [self.task_channels, x.shape[1] - self.task_channels], dim=1)
        tasks = grad_in_input_format(self.experts(task_part))
        mixed = torch.cat([tasks, shared_part], dim=1)
        return grad_in_input_format(x + self.aggregation(mixed))


class PlainBlock(nn.Module):
    """The "no squad" ablation: one expert over all channels, then the
    point-wise aggregation, residual add.

    It differs from :class:`SquadBlock` only in the experts (one over all
    channels instead of one per task group, no shared groups passed
    through, no shuffle); the residual is kept, so that the ablation
    removes the squads and nothing else. Without it a trunk of these
    blocks is a plain deep stack that does not train from scratch at the
    demo's schedule (human parts stayed at the constant predictor).

    Args:
        channels_per_group: Channels of one group.
        num_tasks: Task groups.
        num_shared: Shared groups.
        mlp_ratio: Hidden width ratio.
        channel_shuffle: Unused by the ablation; accepted for a uniform
            block signature.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
    """

    def __init__(self,
                 channels_per_group: int,
                 num_tasks: int,
                 num_shared: int,
                 mlp_ratio: float = 1.0,
                 channel_shuffle: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        channels = channels_per_group * (num_tasks + num_shared)
        hidden = int(channels * mlp_ratio)
        self.expert = SquadMLP(channels, hidden, norm_cfg=norm_cfg,
                               act_cfg=act_cfg)
        self.aggregation = SquadMLP(channels, hidden, norm_cfg=norm_cfg,
                                    act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return grad_in_input_format(x + self.aggregation(self.expert(x)))


class SquadDownsample(nn.Module):
    """ShuffleNetV2-style stride-2 unit from N to 2N channels.

    Branch A: 3x3 depthwise stride 2 - BN, 1x1 - BN - act. Branch B: 1x1 -
    BN - act, 3x3 depthwise stride 2 - BN, 1x1 - BN - act. The branches are
    concatenated, optionally shuffled in ``shuffle_groups`` groups (folded
    into the aggregation) and aggregated point-wise; no residual.

    Args:
        in_channels: N.
        shuffle_groups: Groups of the shuffle, or 0 for none.
        mlp_ratio: Hidden width ratio of the aggregation.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
    """

    def __init__(self,
                 in_channels: int,
                 shuffle_groups: int = 0,
                 mlp_ratio: float = 1.0,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        n = in_channels
        self.branch_a = nn.Sequential(
            ConvNormAct(n, n, 3, 2, groups=n, norm_cfg=norm_cfg,
                        act_cfg=None),
            ConvNormAct(n, n, 1, norm_cfg=norm_cfg, act_cfg=act_cfg))
        self.branch_b = nn.Sequential(
            ConvNormAct(n, n, 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
            ConvNormAct(n, n, 3, 2, groups=n, norm_cfg=norm_cfg,
                        act_cfg=None),
            ConvNormAct(n, n, 1, norm_cfg=norm_cfg, act_cfg=act_cfg))
        permutation = (shuffle_permutation(2 * n, shuffle_groups)
                       if shuffle_groups else None)
        self.aggregation = SquadMLP(2 * n, int(2 * n * mlp_ratio),
                                    norm_cfg=norm_cfg, act_cfg=act_cfg,
                                    input_permutation=permutation)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.cat([grad_in_input_format(self.branch_a(x)),
                       grad_in_input_format(self.branch_b(x))], dim=1)
        return grad_in_input_format(self.aggregation(x))


class SquadStem(nn.Sequential):
    """3x3 stride-2 conv - BN - act, then a depthwise-separable conv
    (3x3 depthwise - BN - act, 1x1 - BN - act), width kept.

    Args:
        in_channels: Image channels.
        out_channels: Width of the first level.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        n = out_channels
        super().__init__(
            ConvNormAct(in_channels, n, 3, 2, norm_cfg=norm_cfg,
                        act_cfg=act_cfg),
            ConvNormAct(n, n, 3, groups=n, norm_cfg=norm_cfg,
                        act_cfg=act_cfg),
            ConvNormAct(n, n, 1, norm_cfg=norm_cfg, act_cfg=act_cfg))
