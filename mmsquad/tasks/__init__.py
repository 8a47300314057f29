"""Task kinds: what a task is, in one place (targets, transforms, default
loss, prediction, metric, pictures, outputs)."""
from .base_task import (IGNORE_INDEX, BaseTask, DenseMapTask,
                        InvalidTargetError, flipped)
from .binary_map import BinaryMapTask, BoundaryMapTask
from .boxes import BoxTask
from .image import ImageTask
from .image_label import ImageLabelTask
from .label_map import LabelMapTask
from .presets import TASK_PRESETS, build_task, build_tasks, task_configs
from .scalar_map import ScalarMapTask
from .unit_vector_map import UnitVectorTask

__all__ = [
    'IGNORE_INDEX', 'BaseTask', 'BinaryMapTask', 'BoundaryMapTask', 'BoxTask',
    'DenseMapTask', 'ImageLabelTask', 'ImageTask', 'InvalidTargetError',
    'LabelMapTask', 'ScalarMapTask', 'TASK_PRESETS', 'UnitVectorTask',
    'build_task', 'build_tasks', 'flipped', 'task_configs'
]
