"""NDDR-CNN (Gao et al., CVPR 2019)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmsquad.registry import MODELS
from .branched_encoder import BranchedEncoder


class NDDRLayer(nn.Module):
    """Neural discriminative dimensionality reduction: every task gets a
    bias-free 1x1 convolution of all tasks' concatenated features back to
    one task's width, then a norm and ReLU.

    Each convolution starts as ``alpha`` times the identity on its own
    task's block and ``beta`` times the identity on the others' (the
    published initialisation).
    """

    def __init__(self, num_tasks: int, channels: int, alpha: float,
                 beta: float, norm_cfg: dict) -> None:
        super().__init__()
        self.alpha, self.beta = alpha, beta
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(num_tasks * channels, channels, 1, bias=False),
                build_norm_layer(norm_cfg, channels)[1], nn.ReLU())
            for _ in range(num_tasks))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set the published initial values."""
        num_tasks = len(self.layers)
        for i, layer in enumerate(self.layers):
            conv, norm = layer[0], layer[1]
            channels = conv.out_channels
            blocks = [torch.eye(channels) * (self.alpha if j == i
                                             else self.beta)
                      for j in range(num_tasks)]
            with torch.no_grad():
                conv.weight.copy_(torch.cat(blocks, dim=1)[..., None, None])
                norm.weight.fill_(1.0)
                norm.bias.fill_(0.0)

    def shared_parameters(self, last: bool) -> List[nn.Parameter]:
        """All, unless no mixing follows: then each task's layer serves its
        task only."""
        return [] if last else list(self.parameters())

    def forward(self, feats: List[Tensor]) -> List[Tensor]:
        x = torch.cat(feats, dim=1)
        return [layer(x) for layer in self.layers]


@MODELS.register_module()
class NDDREncoder(BranchedEncoder):
    """One backbone per task, their features fused by an
    :class:`NDDRLayer` after the chosen stages (published: after the stem
    and after layer1 .. layer4; alpha 0.9, beta 0.1; norm momentum 0.05).

    Example:
        >>> encoder = dict(type='NDDREncoder', backbone=dict(
        ...     type='mmseg.ResNet', depth=18, strides=(1, 2, 1, 1),
        ...     dilations=(1, 1, 2, 4)))

    The published recipe gives the NDDR layers 100x the learning rate:
    ``paramwise_cfg=dict(custom_keys={'.nddr.': dict(lr_mult=100)})``.

    Args:
        tasks: Task names (filled in by the model).
        backbone: Config of one task's backbone (ResNet family).
        nddr_stages: Stages after which the features are fused.
        alpha: Initial weight of a task's own features.
        beta: Initial weight of another task's features.
        out_stages: The stages whose outputs the heads receive.
        norm_cfg: Norm layer config of the NDDR layers.
        branch_init_cfgs: ``{task: init_cfg}`` of that task's backbone.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 backbone: dict,
                 nddr_stages: Sequence[str] = ('stem', 'layer1', 'layer2',
                                               'layer3', 'layer4'),
                 alpha: float = 0.9,
                 beta: float = 0.1,
                 out_stages: Sequence[str] = ('layer1', 'layer2', 'layer3',
                                              'layer4'),
                 norm_cfg: dict = dict(type='BN', momentum=0.05),
                 branch_init_cfgs: Optional[Dict[str, dict]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(tasks, backbone, nddr_stages, out_stages,
                         branch_init_cfgs, init_cfg)
        self.nddr = nn.ModuleDict({
            stage: NDDRLayer(len(self.tasks), self.stage_channels[stage],
                             alpha, beta, norm_cfg)
            for stage in self.mix_stages})

    @property
    def mixers(self) -> nn.ModuleDict:
        return self.nddr
