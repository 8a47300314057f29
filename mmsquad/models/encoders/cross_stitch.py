"""Cross-Stitch networks (Misra et al., CVPR 2016)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from mmsquad.registry import MODELS
from .branched_encoder import BranchedEncoder


class CrossStitchUnit(nn.Module):
    """Task ``i``'s features become ``sum_j w[i, j, c] * x_j[c]``: a
    per-channel linear combination of all tasks' features, ``w`` starting
    at ``alpha`` for ``i == j`` and ``beta`` otherwise."""

    def __init__(self, num_tasks: int, channels: int, alpha: float,
                 beta: float) -> None:
        super().__init__()
        self.alpha, self.beta = alpha, beta
        self.weight = nn.Parameter(torch.empty(num_tasks, num_tasks,
                                               channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set the published initial values."""
        num_tasks = self.weight.shape[0]
        eye = torch.eye(num_tasks)[..., None]
        with torch.no_grad():
            self.weight.copy_(eye * self.alpha + (1 - eye) * self.beta)

    def shared_parameters(self, last: bool) -> List[nn.Parameter]:
        """The weights: one tensor that every task's output uses."""
        return [self.weight]

    def forward(self, feats: List[Tensor]) -> List[Tensor]:
        return [sum(w[j].view(1, -1, 1, 1) * x for j, x in enumerate(feats))
                for w in self.weight]


@MODELS.register_module()
class CrossStitchEncoder(BranchedEncoder):
    """One backbone per task, their features cross-stitched after the
    chosen stages (published: after layer1 .. layer4, the stem running
    with layer1; alpha 0.8, beta 0.05 on PASCAL-Context).

    Example:
        >>> encoder = dict(type='CrossStitchEncoder', backbone=dict(
        ...     type='mmseg.ResNet', depth=18, strides=(1, 2, 1, 1),
        ...     dilations=(1, 1, 2, 4)))

    The published recipe initialises every branch (and head) from a
    single-task checkpoint: ``branch_init_cfgs=dict(semseg=dict(
    type='Pretrained', checkpoint='single_semseg.pth', prefix='backbone.'),
    ...)``; and gives the stitch weights 100x the learning rate:
    ``paramwise_cfg=dict(custom_keys={'.stitch.': dict(lr_mult=100)})``.

    Args:
        tasks: Task names (filled in by the model).
        backbone: Config of one task's backbone (a ResNet-family backbone,
            see :func:`~mmsquad.models.backbones.resnet_stages.stage_names`).
        stitch_stages: Stages after which the features are stitched.
        alpha: Initial weight of a task's own features.
        beta: Initial weight of another task's features.
        out_stages: The stages whose outputs the heads receive.
        branch_init_cfgs: ``{task: init_cfg}`` of that task's backbone
            (e.g. a single-task checkpoint), replacing the backbone's.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 backbone: dict,
                 stitch_stages: Sequence[str] = ('layer1', 'layer2',
                                                 'layer3', 'layer4'),
                 alpha: float = 0.8,
                 beta: float = 0.05,
                 out_stages: Sequence[str] = ('layer1', 'layer2', 'layer3',
                                              'layer4'),
                 branch_init_cfgs: Optional[Dict[str, dict]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(tasks, backbone, stitch_stages, out_stages,
                         branch_init_cfgs, init_cfg)
        self.stitch = nn.ModuleDict({
            stage: CrossStitchUnit(len(self.tasks),
                                   self.stage_channels[stage], alpha, beta)
            for stage in self.mix_stages})

    @property
    def mixers(self) -> nn.ModuleDict:
        return self.stitch
