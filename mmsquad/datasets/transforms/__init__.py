"""Task-aware transforms."""
from .formatting import PackMultiTaskInputs
from .geometric import (MultiTaskRandomCrop, MultiTaskRandomFlip,
                        MultiTaskRandomRotate, MultiTaskRandomScale,
                        MultiTaskResize)
from .loading import LoadMultiTaskAnnotations

__all__ = [
    'LoadMultiTaskAnnotations', 'MultiTaskRandomCrop', 'MultiTaskRandomFlip',
    'MultiTaskRandomRotate', 'MultiTaskRandomScale', 'MultiTaskResize',
    'PackMultiTaskInputs'
]
