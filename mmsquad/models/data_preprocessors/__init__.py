"""Data preprocessors."""
from .multitask_data_preprocessor import MultiTaskDataPreprocessor

__all__ = ['MultiTaskDataPreprocessor']
