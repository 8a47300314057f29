"""Hooks."""
from .visualization_hook import MultiTaskVisualizationHook

__all__ = ['MultiTaskVisualizationHook']
