"""Task heads."""
from .aspp_head import ASPPTaskHead
from .base_dense_head import BaseDenseTaskHead, dense_task_losses
from .base_task_head import BaseTaskHead
from .detection_task_head import DetectionTaskHead
from .detector_task_head import DetectorTaskHead
from .enhancement_head import EnhancementHead
from .linear_cls_head import LinearClsTaskHead
from .residual_head import ResidualTaskHead
from .task_head_adapter import TaskHeadAdapter

__all__ = [
    'ASPPTaskHead', 'BaseDenseTaskHead', 'BaseTaskHead', 'DetectionTaskHead',
    'DetectorTaskHead', 'EnhancementHead', 'LinearClsTaskHead',
    'ResidualTaskHead', 'TaskHeadAdapter', 'dense_task_losses'
]
