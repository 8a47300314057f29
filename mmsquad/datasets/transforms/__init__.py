"""Task-aware transforms."""
from .formatting import PackMultiTaskInputs
from .geometric import (MultiTaskRandomCrop, MultiTaskRandomFlip,
                        MultiTaskRandomScale, MultiTaskRandomScaleRotate,
                        MultiTaskResize)
from .loading import LoadMultiTaskAnnotations
from .underwater import (LoadEnhancementReference, PackUnderwaterInputs,
                         WithReference)

__all__ = [
    'LoadEnhancementReference', 'LoadMultiTaskAnnotations',
    'MultiTaskRandomCrop', 'MultiTaskRandomFlip', 'MultiTaskRandomScaleRotate',
    'MultiTaskRandomScale', 'MultiTaskResize', 'PackMultiTaskInputs',
    'PackUnderwaterInputs', 'WithReference'
]
