"""The multi-task model and its loss balancers."""
from .loss_balancers import (BaseLossBalancer, DynamicWeightAverage, GradNorm,
                             UncertaintyWeighting)
from .multitask_model import MultiTaskModel

__all__ = ['BaseLossBalancer', 'DynamicWeightAverage', 'GradNorm',
           'MultiTaskModel', 'UncertaintyWeighting']
