"""Datasets and transforms."""
from .base_dense_dataset import BaseDenseMTDataset
from .nyud_v2_mt import NYUDv2MTDataset
from .pascal_context_mt import PascalContextMTDataset
from .task_dataset import TaskDataset
from .transforms import *  # noqa: F401,F403
from .underwater_mt import EnhancementPairDataset, UnderwaterMTDataset

__all__ = [
    'BaseDenseMTDataset', 'EnhancementPairDataset', 'NYUDv2MTDataset',
    'PascalContextMTDataset', 'TaskDataset', 'UnderwaterMTDataset'
]
