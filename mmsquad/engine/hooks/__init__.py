"""Hooks."""
from .checkpoint_fit_hook import CheckpointFitHook
from .grad_conflict_hook import GradConflictHook
from .visualization_hook import MultiTaskVisualizationHook

__all__ = ['CheckpointFitHook', 'GradConflictHook', 'MultiTaskVisualizationHook']
