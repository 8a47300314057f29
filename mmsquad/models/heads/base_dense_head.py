"""Shared logic of the dense task heads: targets, loss, prediction."""
from abc import abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import PixelData
from torch import Tensor

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample, get_dense_task
from ..losses import zero_loss


class BaseDenseTaskHead(BaseModule):
    """A head that predicts one dense task from multi-level features.

    Subclasses implement :meth:`forward` (features -> logits at feature
    resolution). Losses see logits resized to the padded input size; only
    the samples that carry a label for the task count, and a batch without
    any gives a zero loss that still touches every parameter (DDP-safe).

    Args:
        task: Task name (see :data:`mmsquad.structures.DENSE_TASKS`).
        loss: Loss config, or a list of them (summed under their names).
        align_corners: ``align_corners`` of the bilinear upsampling.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 task: str,
                 loss: Union[dict, List[dict]],
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.task = task
        self.task_info = get_dense_task(task)
        losses = loss if isinstance(loss, (list, tuple)) else [loss]
        self.losses = torch.nn.ModuleList(MODELS.build(cfg) for cfg in losses)
        self.align_corners = align_corners

    @abstractmethod
    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Logits of the task at feature resolution."""

    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """Losses of the task on the labelled samples of the batch."""
        logits = self(feats)
        labelled = [i for i, s in enumerate(data_samples)
                    if s.has_target(self.task)]
        if not labelled:
            return {loss.loss_name: zero_loss(logits) for loss in self.losses}
        target = torch.stack([
            data_samples[i].get_target(self.task).data for i in labelled])
        logits = self._resize(logits[labelled], target.shape[-2:])
        return {loss.loss_name: loss(logits, target) for loss in self.losses}

    def predict(self, feats: Sequence[Tensor],
                batch_img_shape: Sequence[int]) -> Tensor:
        """Task outputs at the padded input size.

        Returns class scores (softmax) for label tasks, probabilities
        (sigmoid) for binary tasks, unit vectors for normals and the head's
        values for scalar and image tasks.
        """
        logits = self._resize(self(feats), batch_img_shape)
        kind = self.task_info.kind
        if kind == 'label':
            return logits.softmax(dim=1)
        if kind == 'binary':
            return logits.sigmoid()
        if kind == 'vector':
            return F.normalize(logits, p=2, dim=1)
        return logits

    def predict_samples(self, feats: Sequence[Tensor],
                        data_samples: List[MultiTaskDataSample],
                        batch_img_shape: Sequence[int]) -> None:
        """Set ``pred_<task>`` of every sample at its original size: class
        indices for label tasks, probabilities for binary tasks, unit
        vectors for normals and values for scalar and image tasks, each
        (C, H, W), in float32 whatever precision the network ran in."""
        outputs = self.predict(feats, batch_img_shape).float()
        kind = self.task_info.kind
        for output, sample in zip(outputs, data_samples):
            output = self._to_original_size(output, sample)
            if kind == 'label':
                output = output.argmax(dim=0, keepdim=True)
            elif kind == 'vector':
                output = F.normalize(output, p=2, dim=0)
            sample.set_prediction(self.task, PixelData(data=output))

    @staticmethod
    def _to_original_size(output: Tensor,
                          sample: MultiTaskDataSample) -> Tensor:
        """Crop the padding, then resize to ``ori_shape``."""
        h, w = sample.metainfo.get('img_shape', output.shape[-2:])[:2]
        output = output[:, :h, :w]
        ori: Tuple[int, int] = tuple(
            sample.metainfo.get('ori_shape', (h, w))[:2])
        if ori != (h, w):
            output = F.interpolate(output[None], size=ori, mode='bilinear',
                                   align_corners=False)[0]
        return output

    def _resize(self, x: Tensor, size: Sequence[int]) -> Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        return F.interpolate(x, size=tuple(size), mode='bilinear',
                             align_corners=self.align_corners)
