"""Hooks."""
from .grad_conflict_hook import GradConflictHook
from .visualization_hook import MultiTaskVisualizationHook

__all__ = ['GradConflictHook', 'MultiTaskVisualizationHook']
