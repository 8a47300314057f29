"""Per-image statistics of dense maps and their dataset-level
reduction, as the multi-task literature computes them."""
from typing import Dict, List

import numpy as np

SAL_THRESHOLDS = np.linspace(0.2, 0.9, 15)
ANGLE_BIN = 0.05  # degrees; resolution of the pooled normals median
ANGLE_BINS = int(180 / ANGLE_BIN)


def confusion(pred: np.ndarray, gt: np.ndarray, num_classes: int,
              ignore: int = 255) -> np.ndarray:
    """Confusion matrix (gt x pred) over labelled pixels."""
    valid = gt != ignore
    idx = gt[valid].astype(np.int64) * num_classes + pred[valid]
    return np.bincount(idx, minlength=num_classes**2).reshape(
        num_classes, num_classes)


def class_ious(conf: np.ndarray) -> np.ndarray:
    """Per-class IoU (%) of a confusion matrix; NaN for the classes that
    occur in neither ground truth nor prediction."""
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    return np.divide(100 * tp, union, where=union > 0,
                     out=np.full(len(conf), np.nan))


def miou(conf: np.ndarray) -> float:
    """Mean IoU (%) over the classes that occur in ground truth or
    prediction."""
    return float(np.nanmean(class_ious(conf)))


def saliency_stats(prob: np.ndarray, gt: np.ndarray, ignore: int = 255,
                   empty_iou: float = 1.0) -> np.ndarray:
    """Per-threshold (precision, recall, jaccard) of one image: (15, 3);
    the jaccard of an empty target and an empty prediction is
    ``empty_iou``."""
    valid = gt != ignore
    gt = gt[valid] == 1
    prob = prob[valid]
    stats = np.zeros((len(SAL_THRESHOLDS), 3))
    for i, thr in enumerate(SAL_THRESHOLDS):
        pred = prob > thr
        tp = np.sum(pred & gt)
        fp = np.sum(pred & ~gt)
        fn = np.sum(~pred & gt)
        union = tp + fp + fn
        stats[i] = (tp / max(tp + fp, 1e-8), tp / max(tp + fn, 1e-8),
                    tp / union if union else empty_iou)
    return stats


def saliency_metrics(per_image: List[np.ndarray]) -> Dict[str, float]:
    """maxF and mIoU (%) from per-image statistics."""
    mean = np.mean(per_image, axis=0)
    precision, recall, jaccard = mean[:, 0], mean[:, 1], mean[:, 2]
    f = 2 * precision * recall / np.maximum(precision + recall, 1e-8)
    return dict(maxF=float(f.max() * 100), mIoU=float(jaccard.max() * 100))


def normal_angles(pred: np.ndarray, gt: np.ndarray,
                  ignore: float = 255) -> np.ndarray:
    """Angles (degrees) between unit normals (3, H, W) on valid pixels."""
    valid = np.all(gt != ignore, axis=0)
    p = pred[:, valid]
    g = gt[:, valid]
    p = p / np.maximum(np.linalg.norm(p, axis=0), 1e-8)
    g = g / np.maximum(np.linalg.norm(g, axis=0), 1e-8)
    return np.degrees(np.arccos(np.clip((p * g).sum(0), -1, 1)))


class AngleAccumulator:
    """Pooled angle statistics without keeping every pixel."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.hist = np.zeros(ANGLE_BINS, dtype=np.int64)

    def add(self, angles: np.ndarray) -> None:
        self.count += angles.size
        self.total += float(angles.sum())
        self.total_sq += float((angles**2).sum())
        bins = np.minimum((angles / ANGLE_BIN).astype(np.int64),
                          ANGLE_BINS - 1)
        self.hist += np.bincount(bins, minlength=ANGLE_BINS)

    def merge(self, other: 'AngleAccumulator') -> None:
        self.count += other.count
        self.total += other.total
        self.total_sq += other.total_sq
        self.hist += other.hist

    def metrics(self) -> Dict[str, float]:
        """mean, median, rmse and % within 11.25/22.5/30 degrees."""
        n = max(self.count, 1)
        cum = np.cumsum(self.hist)
        median_bin = int(np.searchsorted(cum, n / 2))
        below = {t: cum[int(round(t / ANGLE_BIN)) - 1] / n * 100
                 for t in (11.25, 22.5, 30)}
        return {
            'mean': self.total / n,
            'median': (median_bin + 0.5) * ANGLE_BIN,
            'rmse': float(np.sqrt(self.total_sq / n)),
            '11.25': float(below[11.25]),
            '22.5': float(below[22.5]),
            '30': float(below[30]),
        }


def depth_errors(pred: np.ndarray, gt: np.ndarray,
                 ignore: float = 255) -> np.ndarray:
    """(count, sum sq error, sum abs rel error) over valid pixels."""
    valid = (gt != ignore) & (gt > 0)
    p, g = pred[valid], gt[valid]
    return np.array([valid.sum(), ((p - g)**2).sum(),
                     (np.abs(p - g) / g).sum()], dtype=np.float64)


def edge_counts(prob: np.ndarray, gt: np.ndarray, thresholds: np.ndarray,
                max_dist: float, ignore: int = 255) -> np.ndarray:
    """BSDS boundary matching of one image at every threshold.

    Uses pyEdgeEval's compiled pixel correspondence (thinning the
    prediction, tolerance ``max_dist`` of the image diagonal).

    Returns:
        (4, T): matched GT pixels, GT pixels, matched predicted pixels and
        predicted pixels, per threshold.
    """
    from pyEdgeEval.common.binary_label import evaluate_boundaries_threshold
    prob = np.where(gt == ignore, 0, prob).astype(np.float64)
    gt = (gt == 1)
    count_r, sum_r, count_p, sum_p = evaluate_boundaries_threshold(
        thresholds, prob, gt, max_dist=max_dist, apply_thinning=True)
    return np.stack([count_r, sum_r, count_p, sum_p])


def edge_ods_f(counts: np.ndarray, thresholds: np.ndarray) -> float:
    """Optimal-dataset-scale F (%) from summed per-threshold counts, with
    the BSDS interpolation between thresholds."""
    from pyEdgeEval.common.metrics import (compute_rec_prec_f1,
                                           interpolated_max_scores)
    rec, prec, _ = compute_rec_prec_f1(*counts)
    return float(interpolated_max_scores(thresholds, rec, prec)[3] * 100)
