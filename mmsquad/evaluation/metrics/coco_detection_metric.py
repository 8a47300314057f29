"""COCO detection metrics that still report when nothing was detected."""
from typing import Dict

from mmdet.evaluation import CocoMetric
from mmengine.logging import print_log

from mmsquad.registry import METRICS

#: The keys mmdet's CocoMetric reports per metric when not told otherwise.
DEFAULT_METRIC_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


@METRICS.register_module()
class CocoDetectionMetric(CocoMetric):
    """mmdet's ``CocoMetric`` (same arguments, same keys) that reports zero
    precision when the model detected nothing.

    mmdet's metric then logs that the results are empty and returns no keys
    at all, so ``save_best='coco/bbox_mAP'`` stops training with a KeyError
    in mmengine's CheckpointHook, as an untrained detector whose scores are
    all below ``score_thr`` does at its first validation. With no detection
    every average precision and recall is 0.
    """

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """mmdet's metrics, with zeros for the box or mask metrics it could
        not compute."""
        metrics = super().compute_metrics(results)
        for metric in self.metrics:
            if metric not in ('bbox', 'segm') or any(
                    key.startswith(f'{metric}_') for key in metrics):
                continue
            print_log(f'no {metric} detections: reporting zero {metric} '
                      'precision', logger='current')
            metrics.update({f'{metric}_{item}': 0.0 for item in
                            self.metric_items or DEFAULT_METRIC_ITEMS})
        return metrics
