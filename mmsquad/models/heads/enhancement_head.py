"""Head that predicts the enhanced image at full resolution."""
from typing import List, Optional, Sequence, Union

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.tasks import BaseTask
from .base_dense_task_head import BaseDenseTaskHead


@MODELS.register_module()
class EnhancementHead(BaseDenseTaskHead):
    """Fuse the multi-level features of an image task top-down and decode
    an RGB image in [0, 1] at the input resolution.

    Every level is projected to ``channels`` (1x1), upsampled to the finest
    level and summed; two 3x3 convs refine the sum; the result is upsampled
    by ``upsample_factor`` (the finest level's stride) and a last 3x3 conv
    with a sigmoid gives the image.

    Args:
        task: The task (a built :class:`~mmsquad.tasks.ImageTask`, or a
            preset name).
        in_channels: Channels of every input level, finest first; by
            default the advertised ``feature_channels``.
        loss: Loss config(s); by default the task kind's (``L1SSIMLoss``).
        feature_channels: Channels of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        feature_strides: Strides of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        channels: Width of the decoder.
        upsample_factor: Stride of the finest input level.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
        align_corners: Upsampling ``align_corners``.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 task: Union[str, BaseTask],
                 in_channels: Optional[Sequence[int]] = None,
                 loss: Optional[Union[dict, List[dict]]] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 channels: int = 64,
                 upsample_factor: int = 2,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(task, loss, feature_channels, feature_strides,
                         align_corners, init_cfg)
        in_channels = self.contract_channels(in_channels,
                                             self.feature_channels)
        self.upsample_factor = upsample_factor
        self.laterals = nn.ModuleList(
            ConvModule(c, channels, 1, norm_cfg=norm_cfg, act_cfg=None)
            for c in in_channels)
        self.refine = nn.Sequential(
            ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg),
            ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg))
        self.to_image = nn.Conv2d(channels, self.task.out_channels, 3,
                                  padding=1)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        if len(feats) != len(self.laterals):
            raise ValueError(f'EnhancementHead has {len(self.laterals)} '
                             f'in_channels but got {len(feats)} levels')
        size = feats[0].shape[-2:]
        fused = sum(self._resize(lateral(x), size)
                    for lateral, x in zip(self.laterals, feats))
        x = self.refine(fused)
        if self.upsample_factor != 1:
            x = F.interpolate(x, scale_factor=self.upsample_factor,
                              mode='bilinear',
                              align_corners=self.align_corners)
        return self.to_image(x).sigmoid()
