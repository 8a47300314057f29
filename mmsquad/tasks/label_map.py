"""Per-pixel class labels (semantic segmentation, human parts, ...)."""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.structures import PixelData
from torch import Tensor

from mmsquad.functional import PALETTE
from mmsquad.functional.dense_stats import confusion, miou
from mmsquad.registry import TASKS
from .base_task import IGNORE_INDEX, DenseMapTask


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
        name: The task's name.
    """

    metric_keys = ('mIoU', )
    target_dtype = torch.int64

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX,
                 name: Optional[str] = None) -> None:
        if num_classes < 1:
            raise ValueError(f'LabelMapTask {name}: num_classes must be >= '
                             f'1, got {num_classes}')
        super().__init__(name, pad_value=ignore_index)
        self.num_classes = num_classes

    @property
    def out_channels(self) -> int:
        return self.num_classes

    @property
    def default_loss(self) -> dict:
        return dict(type='PixelCrossEntropyLoss', ignore_value=self.pad_value)

    def activate(self, logits: Tensor) -> Tensor:
        return logits.softmax(dim=1)

    def finalize(self, output: Tensor) -> PixelData:
        return PixelData(data=output.argmax(dim=0, keepdim=True))

    def sample_stats(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        return confusion(pred[0], gt[0], self.num_classes, self.pad_value)

    def summarize(self, stats: List[np.ndarray]) -> Dict[str, float]:
        return dict(mIoU=miou(np.sum(stats, axis=0)))

    def best_constant(self, values: np.ndarray) -> np.ndarray:
        return np.array([np.bincount(values[0].astype(np.int64)).argmax()])

    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        """The VOC palette (ignored pixels, 255, are white)."""
        return PALETTE[data[0].astype(np.int64) % 256]

    def to_output(self, prediction: PixelData) -> np.ndarray:
        """(H, W) class indices, uint8 when they fit."""
        labels = prediction.data[0].cpu().numpy()
        return labels.astype(np.uint8 if self.num_classes <= 256 else
                             np.int32)
