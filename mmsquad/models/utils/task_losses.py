"""Per-task parts of a multi-task loss dict, and how the total loss carries
them to the optim wrapper."""
from typing import Callable, Dict, List, Tuple

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
                       shared_params: Callable[[], List[nn.Parameter]]
                       ) -> Tensor:
    """Let ``loss`` (the total) carry the loss dict it was parsed from and
    a way to get the shared parameters, for the optim wrapper.

    mmengine's model wrappers hand the optim wrapper only the parsed total
    loss; gradient surgery needs the per-task parts. The model's
    ``parse_losses`` attaches them here, whatever wrapper (DDP or none) runs
    the step; nothing is computed unless a surgery wrapper asks.
    """
    loss.loss_dict = losses
    loss.shared_params = shared_params
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
