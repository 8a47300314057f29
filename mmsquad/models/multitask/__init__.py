"""The multi-task model."""
from .multitask_model import MultiTaskModel

__all__ = ['MultiTaskModel']
