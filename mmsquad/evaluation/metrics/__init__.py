"""Metrics."""
from .enhancement_metric import EnhancementMetric
from .multitask_metric import MultiTaskMetric, delta_m

__all__ = ['EnhancementMetric', 'MultiTaskMetric', 'delta_m']
