"""Shared logic of the dense task heads: targets, loss, prediction."""
from abc import abstractmethod
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, DenseMapTask
from ..losses import as_task_loss, zero_loss
from .base_task_head import BaseTaskHead


def dense_task_losses(task: BaseTask, losses: Sequence[torch.nn.Module],
                      logits: Tensor,
                      data_samples: List[MultiTaskDataSample],
                      align_corners: bool = False,
                      sampler=None) -> Dict[str, Tensor]:
    """``{loss name: value}`` of ``logits`` (a batch, at any resolution)
    against ``task``'s targets: the samples that carry one, the logits
    resized bilinearly to the target size; losses of the same name summed.
    A batch without any target gives zeros that still reach every
    parameter behind ``logits`` (DDP-safe). A pixel ``sampler`` (mmseg's
    ``OHEMPixelSampler``) weights the pixels, as mmseg's decode heads do
    (the losses must take ``weight``)."""
    labelled = [i for i, s in enumerate(data_samples)
                if s.has_target(task.name)]
    if not labelled:
        return {loss.loss_name: zero_loss(logits) for loss in losses}
    target = torch.stack([
        data_samples[i].get_target(task.name).data for i in labelled])
    logits = logits[labelled]
    if tuple(logits.shape[-2:]) != tuple(target.shape[-2:]):
        logits = F.interpolate(logits, size=tuple(target.shape[-2:]),
                               mode='bilinear', align_corners=align_corners)
    weight = {} if sampler is None else dict(
        weight=sampler.sample(logits, target.long()))
    values: Dict[str, Tensor] = {}
    for loss in losses:
        value = loss(logits, target, **weight)
        values[loss.loss_name] = values[loss.loss_name] + value \
            if loss.loss_name in values else value
    return values


class BaseDenseTaskHead(BaseTaskHead):
    """A head that predicts one dense task (a
    :class:`~mmsquad.tasks.DenseMapTask`) from multi-level features.

    Subclasses implement :meth:`forward` (features -> logits at feature
    resolution). Losses see logits resized to the padded input size; only
    the samples that carry the task's target count, and a batch without
    any gives a zero loss that still touches every parameter (DDP-safe).
    Losses of the same name are summed. Predictions and exported outputs
    are the task kind's activation of the logits (e.g. softmax scores,
    probabilities, unit vectors).

    Args:
        task: The task (a built dense task, or a preset name).
        loss: Loss config, or a list of them (summed per loss name); by
            default the task kind's loss. mmseg's losses work as they are
            (``dict(_scope_='mmseg', type='DiceLoss')``, see
            :class:`~mmsquad.models.losses.SegLossAdapter`).
        feature_channels: Channels of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        feature_strides: Strides of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        align_corners: ``align_corners`` of the bilinear upsampling.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 task: Union[str, BaseTask],
                 loss: Optional[Union[dict, List[dict]]] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(task, feature_channels, feature_strides, init_cfg)
        if not isinstance(self.task, DenseMapTask):
            raise TypeError(f'{type(self).__name__} predicts dense maps; '
                            f'task {self.task!r} is not one')
        self.losses = self.build_losses(loss)
        self.align_corners = align_corners

    def build_losses(self, loss: Optional[Union[dict, List[dict]]]
                     ) -> torch.nn.ModuleList:
        """The loss modules of ``loss`` (one config or a list; None: the
        task kind's loss), each adapted to the task's targets."""
        loss = self.task.default_loss if loss is None else loss
        losses = loss if isinstance(loss, (list, tuple)) else [loss]
        return torch.nn.ModuleList(
            as_task_loss(MODELS.build(cfg), self.task) for cfg in losses)

    @abstractmethod
    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Logits of the task at feature resolution."""

    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """Losses of the task on the labelled samples of the batch."""
        return dense_task_losses(self.task, self.losses, self(feats),
                                 data_samples, self.align_corners)

    def export(self, feats: Sequence[Tensor],
               batch_shape: Sequence[int]) -> Dict[str, Tensor]:
        """``{task name: activated outputs}`` at the padded input size."""
        logits = self._resize(self(feats), batch_shape)
        return {self.task.name: self.task.activate(logits)}

    def predict(self, feats: Sequence[Tensor],
                data_samples: List[MultiTaskDataSample],
                batch_shape: Sequence[int]) -> None:
        """Set ``pred_<task>`` of every sample at its original size (padding
        cropped), as the task kind finalises it (class indices,
        probabilities, unit vectors, values), in float32 whatever precision
        the network ran in."""
        for output, ori, sample in self._cropped_outputs(
                feats, data_samples, batch_shape):
            sample.set_field(self.task.finalize_at(output, ori),
                             self.task.prediction_key)

    def view_outputs(self, feats: Sequence[Tensor],
                     data_samples: List[MultiTaskDataSample],
                     batch_shape: Sequence[int]) -> List[Tensor]:
        """Per sample, the activated output (C, H, W) at its original size,
        not finalised (what test-time augmentation averages)."""
        return [self.task.output_at(output, ori) for output, ori, _ in
                self._cropped_outputs(feats, data_samples, batch_shape)]

    def _cropped_outputs(self, feats: Sequence[Tensor],
                         data_samples: List[MultiTaskDataSample],
                         batch_shape: Sequence[int]
                         ) -> Iterator[Tuple[Tensor, Tuple[int, int],
                                             MultiTaskDataSample]]:
        """Per sample: the float32 activated output with the batch's
        padding cropped, the original size, the sample."""
        outputs = self.export(feats, batch_shape)[self.task.name].float()
        for output, sample in zip(outputs, data_samples):
            h, w = sample.metainfo.get('img_shape', output.shape[-2:])[:2]
            ori = sample.metainfo.get('ori_shape', (h, w))[:2]
            yield output[:, :h, :w], ori, sample

    def _resize(self, x: Tensor, size: Sequence[int]) -> Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        return F.interpolate(x, size=tuple(size), mode='bilinear',
                             align_corners=self.align_corners)
