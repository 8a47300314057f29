"""Helpers of the models layer that the engine also uses."""
from .task_losses import TaskLosses, task_losses, update_params

__all__ = ['TaskLosses', 'task_losses', 'update_params']
