"""The interface of a gradient aggregator, and the random task order some
of them draw."""
from typing import Dict, List

import torch
from torch import Tensor


class BaseAggregator:
    """Turns the per-task gradients of the shared parameters into the one
    gradient they get (the ``aggregator`` of
    :class:`~mmsquad.engine.GradSurgeryOptimWrapper`).

    Subclasses implement :meth:`__call__`; a method that differentiates
    something else than the task losses (DB-MTL's log-losses) overrides
    :meth:`surgery_losses` and :meth:`ordinary_loss`; a method with state
    (moving averages, targets, a random generator) overrides
    :meth:`state_dict` and :meth:`load_state_dict`, which the optim
    wrapper's checkpoint carries.
    """

    def __call__(self, grads: Tensor) -> Tensor:
        """``(num_tasks, num_params)`` per-task gradients -> the
        ``(num_params,)`` gradient of the shared parameters."""
        raise NotImplementedError

    def surgery_losses(self, losses: Dict[str, Tensor]
                       ) -> Dict[str, Tensor]:
        """The per-task losses whose gradients the aggregator combines (by
        default the task losses themselves)."""
        return losses

    def ordinary_loss(self, loss: Tensor,
                      losses: Dict[str, Tensor]) -> Tensor:
        """The loss whose ordinary gradient the parameters outside the
        surgery get (by default the model's total loss)."""
        return loss

    def state_dict(self) -> dict:
        """What a resumed run needs to continue as if it never stopped."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""


class RandomTaskOrder:
    """For each task, the other tasks in a random order, drawn from an own
    generator seeded by ``seed``: every process of a DDP run draws the same
    orders, and a resumed run the ones it would have (the generator state
    is part of :meth:`state_dict`).

    Args:
        seed: Seed of the generator.
    """

    def __init__(self, seed: int = 0) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, num_tasks: int) -> List[List[int]]:
        order = []
        for i in range(num_tasks):
            others = [j for j in range(num_tasks) if j != i]
            perm = torch.randperm(len(others), generator=self.generator)
            order.append([others[k] for k in perm.tolist()])
        return order

    def state_dict(self) -> dict:
        return dict(task_order_generator=self.generator.get_state())

    def load_state_dict(self, state: dict) -> None:
        if 'task_order_generator' in state:
            self.generator.set_state(state['task_order_generator'])
