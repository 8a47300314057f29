"""Per-pixel class labels (semantic segmentation, human parts, ...)."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import PixelData
from torch import Tensor

from mmsquad.functional import PALETTE
from mmsquad.functional.dense_stats import confusion, miou
from mmsquad.registry import TASKS
from .base_task import IGNORE_INDEX, DenseMapTask, bad_values, resize_map


#: The most classes a label map's legend names.
LEGEND_SIZE = 8


@TASKS.register_module()
class LabelMapTask(DenseMapTask):
    """A map of class indices; metric ``mIoU`` over the classes present.

    Heads output ``num_classes`` logits; an exported graph returns their
    softmax; the prediction is the argmax. Targets are int64, ignored
    pixels hold ``ignore_index``; geometric transforms use nearest
    interpolation.

    Args:
        num_classes: Number of classes.
        ignore_index: Label of pixels that do not count.
        background: The background class, if the labels have one: the
            value of border pixels that rotations and zooms out create
            under ``border='background'`` (otherwise they are ignored).
        upsample: How a prediction is brought to the original image size
            when the network ran at another: ``'labels'`` (the argmax at
            the network's resolution, then nearest; the published
            evaluation) or ``'scores'`` (scores bilinear, then the argmax;
            mmseg's).
        name: The task's name.
    """

    metric_keys = ('mIoU', )
    target_dtype = torch.int64

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX,
                 background: Optional[int] = None,
                 upsample: str = 'labels',
                 name: Optional[str] = None) -> None:
        if num_classes < 1:
            raise ValueError(f'LabelMapTask {name}: num_classes must be >= '
                             f'1, got {num_classes}')
        if background is not None and not 0 <= background < num_classes:
            raise ValueError(f'LabelMapTask {name}: background must be a '
                             f'class in [0, {num_classes}), got {background}')
        if upsample not in ('labels', 'scores'):
            raise ValueError(f"LabelMapTask {name}: upsample must be "
                             f"'labels' or 'scores', got {upsample!r}")
        super().__init__(name, ignore_index=ignore_index)
        self.num_classes = num_classes
        self.background = background
        self.upsample = upsample

    @property
    def out_channels(self) -> int:
        return self.num_classes

    @property
    def default_loss(self) -> dict:
        return dict(type='PixelCrossEntropyLoss',
                    ignore_index=self.ignore_index)

    def target_problem(self, target: np.ndarray) -> Optional[str]:
        """Class indices in ``[0, num_classes)`` or ``ignore_index``."""
        labels = self.map_values(target)
        if labels.ndim != 2:
            return f'a label map is (H, W); got shape {target.shape}'
        bad = (labels != self.ignore_index) & (
            (labels < 0) | (labels >= self.num_classes))
        return bad_values(labels, bad, f'class indices in [0, '
                          f'{self.num_classes}) or the ignore value '
                          f'{self.ignore_index}')

    def activate(self, logits: Tensor) -> Tensor:
        return logits.softmax(dim=1)

    def finalize(self, output: Tensor) -> PixelData:
        return PixelData(data=output.argmax(dim=0, keepdim=True))

    def output_at(self, output: Tensor, size: Sequence[int]) -> Tensor:
        """The scores at ``size``: bilinear under ``upsample='scores'``,
        nearest under ``'labels'`` (whose argmax is the nearest upsampling
        of the argmax, so test-time views merge in either mode)."""
        if self.upsample == 'scores':
            return super().output_at(output, size)
        return resize_map(output, size, 'nearest')

    def finalize_at(self, output: Tensor,
                    size: Sequence[int]) -> PixelData:
        if self.upsample == 'scores':
            return super().finalize_at(output, size)
        # The argmax before upsampling: one channel to resize, not C.
        labels = self.finalize(output).data
        return PixelData(data=resize_map(labels, size, 'nearest'))

    def sample_stats(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        return confusion(pred[0], gt[0], self.num_classes, self.ignore_index)

    def summarize(self, stats: List[np.ndarray]) -> Dict[str, float]:
        return dict(mIoU=miou(np.sum(stats, axis=0)))

    def best_constant(self, values: np.ndarray) -> np.ndarray:
        return np.array([np.bincount(values[0].astype(np.int64)).argmax()])

    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        """The VOC palette (ignored pixels, 255, are white)."""
        return PALETTE[data[0].astype(np.int64) % 256]

    def legend(self, value: PixelData, classes: Sequence[str] = ()
               ) -> List[Tuple[Tuple[int, int, int], str]]:
        """The classes in the map, most pixels first (at most
        :data:`LEGEND_SIZE`), by name where ``classes`` has them."""
        labels = value.data[0].cpu().numpy().astype(np.int64).ravel()
        counts = np.bincount(labels[(labels != self.ignore_index) &
                                    (labels >= 0)])
        present = np.argsort(-counts, kind='stable')[:LEGEND_SIZE]
        return [(tuple(int(c) for c in PALETTE[i % 256]),
                 classes[i] if i < len(classes) else str(i))
                for i in present if counts[i]]

    def to_output(self, prediction: PixelData) -> np.ndarray:
        """(H, W) class indices, uint8 when they fit."""
        labels = prediction.data[0].cpu().numpy()
        return labels.astype(np.uint8 if self.num_classes <= 256 else
                             np.int32)
