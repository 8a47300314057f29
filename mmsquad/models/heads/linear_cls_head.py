"""Whole-image classification as a task head."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, ImageLabelTask
from ..losses import zero_loss
from .base_task_head import BaseTaskHead


@MODELS.register_module()
class LinearClsTaskHead(BaseTaskHead):
    """Classify the whole image (an :class:`~mmsquad.tasks.ImageLabelTask`)
    from one level of the task's features: global average pooling,
    dropout and a linear layer, as mmpretrain's ``LinearClsHead`` does on a
    backbone's last stage.

    Args:
        task: The task (a built image-label task).
        in_channels: Channels of the selected level; by default the
            advertised ``feature_channels[in_index]``.
        loss: Loss config; by default the task kind's (cross-entropy).
        feature_channels: Channels of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        feature_strides: Strides of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        in_index: Which level to pool.
        dropout_ratio: Dropout before the linear layer.
        init_cfg: Initialisation config (mmpretrain's: normal, std 0.01).
    """

    def __init__(self,
                 task: Union[str, BaseTask],
                 in_channels: Optional[int] = None,
                 loss: Optional[dict] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 in_index: int = -1,
                 dropout_ratio: float = 0.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', layer='Linear', std=0.01)) -> None:
        super().__init__(task, feature_channels, feature_strides, init_cfg)
        if not isinstance(self.task, ImageLabelTask):
            raise TypeError(f'{type(self).__name__} classifies images; task '
                            f'{self.task!r} is not an ImageLabelTask')
        self.in_index = in_index
        self.in_channels = self.contract_channels(
            in_channels, None if self.feature_channels is None else
            self.feature_channels[in_index])
        self.out_channels = self.contract_out_channels(None)
        self.loss_module = MODELS.build(loss or self.task.default_loss)
        self.loss_name = getattr(self.loss_module, 'loss_name', 'loss_cls')
        self.dropout = nn.Dropout(dropout_ratio)
        self.fc = nn.Linear(self.in_channels, self.out_channels)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """(N, num_classes) logits."""
        pooled = F.adaptive_avg_pool2d(feats[self.in_index], 1).flatten(1)
        return self.fc(self.dropout(pooled))

    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        logits = self(feats)
        labelled = [i for i, s in enumerate(data_samples)
                    if self.task.has_target(s)]
        if not labelled:
            return {self.loss_name: zero_loss(logits)}
        labels = torch.cat([
            data_samples[i].get(self.task.target_key).label
            for i in labelled]).to(logits.device)
        return {self.loss_name: self.loss_module(logits[labelled], labels)}

    def predict(self, feats: Sequence[Tensor],
                data_samples: List[MultiTaskDataSample],
                batch_shape: Sequence[int]) -> None:
        """Set the predicted label and class probabilities."""
        for logits, sample in zip(self(feats).float(), data_samples):
            sample.set_field(self.task.finalize(logits),
                             self.task.prediction_key)

    def export(self, feats: Sequence[Tensor],
               batch_shape: Sequence[int]) -> Dict[str, Tensor]:
        """``{task name: class probabilities (N, num_classes)}``."""
        return {self.task.name: self(feats).softmax(dim=1)}
