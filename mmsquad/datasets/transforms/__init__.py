"""Task-aware transforms."""
from .formatting import PackMultiTaskInputs
from .geometric import (MultiTaskRandomCrop, MultiTaskRandomFlip,
                        MultiTaskRandomRotate, MultiTaskRandomScale,
                        MultiTaskResize)
from .loading import LoadMultiTaskAnnotations
from .underwater import (LoadEnhancementReference, PackUnderwaterInputs,
                         WithReference)

__all__ = [
    'LoadEnhancementReference', 'LoadMultiTaskAnnotations',
    'MultiTaskRandomCrop', 'MultiTaskRandomFlip', 'MultiTaskRandomRotate',
    'MultiTaskRandomScale', 'MultiTaskResize', 'PackMultiTaskInputs',
    'PackUnderwaterInputs', 'WithReference'
]
