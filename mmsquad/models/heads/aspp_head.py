"""DeepLab-ASPP task head."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.tasks import BaseTask
from ..layers import ConvNormAct, grad_in_input_format, memory_format_of
from .base_dense_task_head import BaseDenseTaskHead


#: The dropout layers the head offers.
DROPOUT_TYPES = {'Dropout': nn.Dropout, 'Dropout2d': nn.Dropout2d}


@MODELS.register_module()
class ASPPTaskHead(BaseDenseTaskHead):
    """DeepLab atrous spatial pyramid pooling head for one dense task.

    Five branches of ``channels`` each (1x1; 3x3 convolutions dilated by
    ``dilations``; global average pooling + 1x1, upsampled), every conv
    bias-free with norm and ReLU; concat -> 1x1 + norm + ReLU + dropout;
    3x3 + norm + ReLU; a biased 1x1 to ``out_channels``. By default as
    the published SquadNet and multi-task benchmark code: element-wise
    dropout and PyTorch's default initialisation of the convolutions.

    Args:
        task: The task (a built dense task, or a preset name).
        in_channels: Channels of the selected input feature; by default the
            advertised ``feature_channels[in_index]``.
        out_channels: Output channels; by default the task kind's (classes,
            1, or 3 for unit vectors).
        loss: Loss config(s); by default the task kind's.
        feature_channels: Channels of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        feature_strides: Strides of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        channels: Width of the ASPP.
        dilations: Dilations of the atrous branches.
        in_index: Which input feature to use.
        dropout_ratio: Dropout after the projection.
        dropout_type: ``'Dropout'`` (element-wise, published) or
            ``'Dropout2d'`` (whole channels, DeepLab's mmseg heads).
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
        align_corners: Upsampling ``align_corners``.
        init_cfg: Initialisation config; None keeps PyTorch's default (as
            published); ``dict(type='Kaiming', layer='Conv2d',
            mode='fan_out')`` is mmcv ConvModule's.
    """

    def __init__(self,
                 task: Union[str, BaseTask],
                 in_channels: Optional[int] = None,
                 out_channels: Optional[int] = None,
                 loss: Optional[Union[dict, List[dict]]] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 channels: int = 256,
                 dilations: Sequence[int] = (12, 24, 36),
                 in_index: int = -1,
                 dropout_ratio: float = 0.5,
                 dropout_type: str = 'Dropout',
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(task, loss, feature_channels, feature_strides,
                         align_corners, init_cfg)
        self.in_index = in_index
        self.in_channels = in_channels = self.contract_channels(
            in_channels, None if self.feature_channels is None else
            self.feature_channels[in_index])
        self.out_channels = out_channels = self.contract_out_channels(
            out_channels)

        def conv(cin: int, k: int = 1, dilation: int = 1) -> ConvNormAct:
            return ConvNormAct(cin, channels, k, dilation=dilation,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)

        self.aspp = nn.ModuleList(
            [conv(in_channels)] + [conv(in_channels, 3, d) for d in dilations])
        self.image_pool = conv(in_channels)
        self.project = conv(channels * (len(dilations) + 2))
        if dropout_type not in DROPOUT_TYPES:
            raise ValueError(f'dropout_type must be one of '
                             f'{sorted(DROPOUT_TYPES)}, got {dropout_type!r}')
        self.dropout = DROPOUT_TYPES[dropout_type](dropout_ratio)
        self.bottleneck = conv(channels, 3)
        self.conv_out = nn.Conv2d(channels, out_channels, 1)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        x = feats[self.in_index]
        outs = [grad_in_input_format(branch(x)) for branch in self.aspp]
        pooled = self.image_pool(
            F.adaptive_avg_pool2d(grad_in_input_format(x), 1))
        outs.append(pooled.expand(-1, -1, *x.shape[-2:]).contiguous(
            memory_format=memory_format_of(x)))
        x = self.dropout(self.project(torch.cat(outs, dim=1)))
        return self.conv_out(self.bottleneck(x))
