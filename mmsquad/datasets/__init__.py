"""Datasets and transforms."""
from .base_dense_dataset import BaseDenseMTDataset
from .dataset_tasks import (MultiTaskConcatDataset, MultiTaskDatasetMixin,
                            configured_tasks, dataset_tasks)
from .nyud_v2_mt import NYUDv2MTDataset
from .pascal_context_mt import PascalContextMTDataset
from .task_dataset import TaskDataset
from .transforms import *  # noqa: F401,F403
from .underwater_mt import EnhancementPairDataset, UnderwaterMTDataset

__all__ = [
    'BaseDenseMTDataset', 'EnhancementPairDataset', 'MultiTaskConcatDataset',
    'MultiTaskDatasetMixin', 'NYUDv2MTDataset', 'configured_tasks',
    'dataset_tasks',
    'PascalContextMTDataset', 'TaskDataset', 'UnderwaterMTDataset'
]
