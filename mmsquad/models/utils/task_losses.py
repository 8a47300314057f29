"""Per-task parts of a multi-task loss dict, and how the total loss carries
them to the optim wrapper."""
from typing import Callable, Dict, List, Optional, Tuple

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


def attach_task_losses(loss: Tensor, losses: Dict[str, Tensor],
                       shared_params: Callable[[], List[nn.Parameter]],
                       task_weights: Optional[Dict[str, float]] = None
                       ) -> Tensor:
    """Let ``loss`` (the total) carry the loss dict it was parsed from, a
    way to get the shared parameters and the weight each task's losses were
    multiplied by, for the optim wrapper.

    mmengine's model wrappers hand the optim wrapper only the parsed total
    loss; gradient surgery needs the per-task parts. The model's
    ``parse_losses`` attaches them here, whatever wrapper (DDP or none) runs
    the step; nothing is computed unless a surgery wrapper asks.
    """
    loss.loss_dict = losses
    loss.shared_params = shared_params
    loss.task_weights = dict(task_weights or {})
    return loss


def attached_task_losses(loss: Tensor
                         ) -> Tuple[Dict[str, Tensor], List[nn.Parameter]]:
    """The per-task losses (see :func:`task_losses`) and the shared
    parameters attached to ``loss``.

    Raises:
        TypeError: When ``loss`` carries none (the model does not attach
            them, see :func:`attach_task_losses`).
    """
    if not hasattr(loss, 'loss_dict'):
        raise TypeError('gradient surgery needs the per-task losses, but the '
                        'loss carries none: use a model whose parse_losses '
                        'attaches them, such as MultiTaskModel')
    return task_losses(loss.loss_dict), loss.shared_params()


def attached_unweighted_task_losses(loss: Tensor) -> Dict[str, Tensor]:
    """The per-task losses attached to ``loss`` divided by the weights they
    were multiplied by (tasks without an attached weight: 1).

    Raises:
        TypeError: When ``loss`` carries no per-task losses.
        ZeroDivisionError: For a task of weight 0.
    """
    losses, _ = attached_task_losses(loss)
    weights = getattr(loss, 'task_weights', {})
    unweighted = {}
    for task, value in losses.items():
        weight = weights.get(task, 1.0)
        if float(weight) == 0:
            raise ZeroDivisionError(f'task {task!r} has weight 0: its '
                                    'unweighted loss is unknown')
        unweighted[task] = value / weight
    return unweighted
