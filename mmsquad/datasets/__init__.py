"""Datasets and transforms."""
from .pascal_context_mt import PascalContextMTDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['PascalContextMTDataset']
