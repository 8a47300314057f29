"""Metrics."""
from .coco_detection_metric import CocoDetectionMetric
from .enhancement_metric import EnhancementMetric
from .multitask_metric import MultiTaskMetric, delta_m

__all__ = [
    'CocoDetectionMetric', 'EnhancementMetric', 'MultiTaskMetric', 'delta_m'
]
