"""A head of residual blocks and a 1x1 convolution (PAD-Net's heads)."""
from typing import List, Optional, Sequence, Union

from torch import Tensor

from mmsquad.registry import MODELS
from mmsquad.tasks import BaseTask
from ..layers import ResidualDecoder
from .base_dense_task_head import BaseDenseTaskHead


@MODELS.register_module()
class ResidualTaskHead(BaseDenseTaskHead):
    """Residual blocks (mmseg's) then a biased 1x1 conv to the task's
    outputs: the published PAD-Net heads are two Bottlenecks at the
    input's width.

    Args:
        task: The task (a built dense task, or a preset name).
        in_channels: Channels of the selected feature; by default the
            advertised ``feature_channels[in_index]``.
        channels: Width of the blocks; by default ``in_channels``.
        block: ``'Bottleneck'`` or ``'BasicBlock'``.
        num_blocks: Number of blocks.
        in_index: Which input feature to use.
        loss: Loss config(s); by default the task kind's.
        feature_channels: Channels of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        feature_strides: Strides of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        norm_cfg: Norm layer config.
        align_corners: Upsampling ``align_corners``.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 task: Union[str, BaseTask],
                 in_channels: Optional[int] = None,
                 channels: Optional[int] = None,
                 block: str = 'Bottleneck',
                 num_blocks: int = 2,
                 in_index: int = -1,
                 loss: Optional[Union[dict, List[dict]]] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 norm_cfg: dict = dict(type='BN'),
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(task, loss, feature_channels, feature_strides,
                         align_corners, init_cfg)
        self.in_index = in_index
        in_channels = self.contract_channels(
            in_channels, None if self.feature_channels is None else
            self.feature_channels[in_index])
        self.decoder = ResidualDecoder(
            in_channels, channels or in_channels,
            self.contract_out_channels(None), block, num_blocks, norm_cfg)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        return self.decoder(feats[self.in_index])[1]
