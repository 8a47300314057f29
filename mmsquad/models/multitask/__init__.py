"""The multi-task model and its loss balancers."""
from .loss_balancers import BaseLossBalancer, DynamicWeightAverage, GradNorm
from .multitask_model import MultiTaskModel
from .scalarization_balancer import (TorchJDScalarization, build_scalarizer,
                                     scalarizer_names)

__all__ = [
    'BaseLossBalancer', 'DynamicWeightAverage', 'GradNorm', 'MultiTaskModel',
    'TorchJDScalarization', 'build_scalarizer', 'scalarizer_names'
]
