"""Metrics."""
from .coco_detection_metric import CocoDetectionMetric
from .multitask_metric import MultiTaskMetric, delta_m, read_references

__all__ = [
    'CocoDetectionMetric', 'MultiTaskMetric', 'delta_m', 'read_references'
]
