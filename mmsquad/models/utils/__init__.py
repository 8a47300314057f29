"""Helpers of the models layer that the engine also uses."""
from .inner_model import inner_model
from .task_losses import TaskLosses, task_losses, update_params

__all__ = ['TaskLosses', 'inner_model', 'task_losses', 'update_params']
