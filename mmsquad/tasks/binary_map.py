"""Per-pixel binary maps: regions (saliency) and boundaries (edges)."""
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
from torch import Tensor

from mmsquad.functional import grey_levels, heat_map
from mmsquad.functional.dense_stats import (edge_counts, edge_ods_f,
                                            saliency_metrics, saliency_stats)
from mmsquad.registry import TASKS
from .base_task import IGNORE_INDEX, DenseMapTask, bad_values


@TASKS.register_module()
class BinaryMapTask(DenseMapTask):
    """A 0/1 region map (saliency); metrics ``maxF`` and ``mIoU`` over 15
    thresholds of the predicted probability, as the multi-task literature
    scores saliency.

    Heads output one logit; predictions are its sigmoid. Targets are
    int64 with ignored pixels at ``ignore_index``; 0 is the background.

    Args:
        ignore_index: Value of pixels that do not count.
        empty_iou: The IoU of an image whose target and thresholded
            prediction are both empty: 1 as the published evaluation
            (Vandenhende et al.) counts it, or 0 (an undefined IoU scores
            nothing).
        name: The task's name.
    """

    metric_keys = ('maxF', 'mIoU')
    # delta_m compares saliency by mIoU (Vandenhende et al.; the SquadNet
    # paper reports it).
    main_metric = 'mIoU'
    target_dtype = torch.int64
    background = 0

    def __init__(self, ignore_index: int = IGNORE_INDEX,
                 empty_iou: float = 1.0,
                 name: Optional[str] = None) -> None:
        super().__init__(name, ignore_index=ignore_index)
        self.empty_iou = empty_iou

    @property
    def default_loss(self) -> dict:
        return dict(type='BalancedBCELoss', ignore_index=self.ignore_index)

    def target_problem(self, target: np.ndarray) -> Optional[str]:
        """0 (background), 1 (foreground) or ``ignore_index``: a reader
        thresholds grey levels (``binary_png`` at half)."""
        values = self.map_values(target)
        if values.ndim != 2:
            return f'a binary map is (H, W); got shape {target.shape}'
        bad = (values != 0) & (values != 1) & (values != self.ignore_index)
        return bad_values(values, bad, f'0, 1 or the ignore value '
                          f'{self.ignore_index}')

    def activate(self, logits: Tensor) -> Tensor:
        return logits.sigmoid()

    def sample_stats(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        return saliency_stats(pred[0], gt[0], self.ignore_index,
                              self.empty_iou)

    def summarize(self, stats: List[np.ndarray]) -> Dict[str, float]:
        return saliency_metrics(stats)

    def best_constant(self, values: np.ndarray) -> np.ndarray:
        """Everything positive: no other constant scores better under maxF
        (or odsF)."""
        return np.ones(1)

    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        """A jet heat map of the probability (ignored pixels black)."""
        values = data[0].astype(np.float32)
        return heat_map(values, values != self.ignore_index, cv2.COLORMAP_JET,
                        0, 1)


@TASKS.register_module()
class BoundaryMapTask(BinaryMapTask):
    """A thin 0/1 boundary map (edges); metric ``odsF``: BSDS boundary
    matching (pyEdgeEval) within ``max_dist`` of the image diagonal, at
    ``num_thresholds`` evenly spaced thresholds.

    Args:
        max_dist: Matching tolerance as a fraction of the image diagonal
            (PASCAL-Context 0.0075, NYUD-v2 0.011).
        num_thresholds: Number of thresholds.
        pos_weight: Weight of the positive pixels in the default loss.
        ignore_index: Value of pixels that do not count.
        name: The task's name.
    """

    metric_keys = ('odsF', )
    main_metric = 'odsF'

    def __init__(self, max_dist: float = 0.0075, num_thresholds: int = 99,
                 pos_weight: float = 0.95,
                 ignore_index: int = IGNORE_INDEX,
                 name: Optional[str] = None) -> None:
        super().__init__(ignore_index, name=name)
        self.max_dist = max_dist
        self.pos_weight = pos_weight
        self.num_thresholds = num_thresholds
        self.thresholds = np.linspace(1 / (num_thresholds + 1),
                                      1 - 1 / (num_thresholds + 1),
                                      num_thresholds)

    @property
    def default_loss(self) -> dict:
        return dict(type='BalancedBCELoss', pos_weight=self.pos_weight,
                    ignore_index=self.ignore_index)

    def sample_stats(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        return edge_counts(pred[0], gt[0], self.thresholds, self.max_dist,
                           self.ignore_index)

    def summarize(self, stats: List[np.ndarray]) -> Dict[str, float]:
        return dict(odsF=edge_ods_f(np.sum(stats, axis=0), self.thresholds))

    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        """Grey levels of the probability (ignored pixels black)."""
        values = data[0].astype(np.float32)
        return grey_levels(values, values != self.ignore_index)
