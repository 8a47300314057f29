"""The multi-task model, its loss balancers and its test-time augmentation."""
from .loss_balancers import BaseLossBalancer, DynamicWeightAverage, GradNorm
from .multitask_model import MultiTaskModel
from .multitask_tta_model import MultiTaskTTAModel
from .scalarization_balancer import (TorchJDScalarization, build_scalarizer,
                                     scalarizer_names)

__all__ = [
    'BaseLossBalancer', 'DynamicWeightAverage', 'GradNorm', 'MultiTaskModel',
    'MultiTaskTTAModel',
    'TorchJDScalarization', 'build_scalarizer', 'scalarizer_names'
]
