"""Model wrappers."""
from .multitask_ddp import MultiTaskDistributedDataParallel

__all__ = ['MultiTaskDistributedDataParallel']
