"""Helpers of the models layer that the engine also uses."""
from .task_losses import (attach_task_losses, attached_task_losses,
                          attached_unweighted_task_losses, task_losses)

__all__ = [
    'attach_task_losses', 'attached_task_losses',
    'attached_unweighted_task_losses', 'task_losses'
]
