"""The per-task parts of a multi-task loss, handed explicitly to the optim
wrappers that need them (gradient surgery)."""
from dataclasses import dataclass
from typing import Callable, Dict, List, Union

from torch import Tensor, nn


def task_losses(losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Sum the loss terms of each task.

    Args:
        losses: A loss dict keyed ``<task>.<name>`` (as
            :class:`~mmsquad.models.MultiTaskModel` returns); only keys
            whose name contains ``loss`` count, as in mmengine's
            ``parse_losses``.

    Returns:
        ``{task: total loss of the task}`` in the order of ``losses``.
    """
    totals: Dict[str, Tensor] = {}
    for key, value in losses.items():
        task, _, name = key.partition('.')
        if 'loss' not in name:
            continue
        totals[task] = totals[task] + value if task in totals else value
    return totals


@dataclass
class TaskLosses:
    """What a gradient method needs beside the total loss.

    Args:
        losses: ``{task: the task's (weighted) loss}``.
        weights: ``{task: the weight its losses were multiplied by}`` (fixed
            times balanced).
        shared_params: The parameters more than one task's loss reaches.
    """

    losses: Dict[str, Tensor]
    weights: Dict[str, Union[float, Tensor]]
    shared_params: List[nn.Parameter]

    def unweighted(self) -> Dict[str, Tensor]:
        """The per-task losses divided by their weights (1 where none).

        Raises:
            ZeroDivisionError: For a task of weight 0.
        """
        unweighted = {}
        for task, value in self.losses.items():
            weight = self.weights.get(task, 1.0)
            if float(weight) == 0:
                raise ZeroDivisionError(f'task {task!r} has weight 0: its '
                                        'unweighted loss is unknown')
            unweighted[task] = value / weight
        return unweighted


def update_params(optim_wrapper, loss: Tensor,
                  per_task: Callable[[], TaskLosses]) -> None:
    """``optim_wrapper.update_params(loss)``, also handing it the per-task
    losses (``per_task()``) when it takes them (its ``takes_task_losses``
    is true, as gradient surgery's)."""
    if getattr(optim_wrapper, 'takes_task_losses', False):
        optim_wrapper.update_params(loss, task_losses=per_task())
    else:
        optim_wrapper.update_params(loss)
