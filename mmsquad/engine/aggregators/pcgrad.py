"""PCGrad (Yu et al., NeurIPS 2020)."""
from typing import List

import torch
from torch import Tensor

from mmsquad.registry import AGGREGATORS
from .base import BaseAggregator, RandomTaskOrder


def pcgrad(grads: Tensor, order: List[List[int]]) -> Tensor:
    """Project each task's gradient onto the normal plane of every other
    task's gradient it conflicts with, in ``order``; sum.

    Args:
        grads: (num_tasks, num_params) per-task gradients.
        order: For each task, the order of the other tasks to project on.
    """
    result = torch.zeros_like(grads[0])
    for i, others in enumerate(order):
        g = grads[i].clone()
        for j in others:
            dot = g @ grads[j]
            if dot < 0:
                g -= dot / grads[j].square().sum().clamp_min(1e-20) * grads[j]
        result += g
    return result


@AGGREGATORS.register_module()
class PCGrad(BaseAggregator):
    """PCGrad (see :func:`pcgrad`), visiting the other tasks in a random
    order.

    Args:
        seed: Seed of the random task order (see
            :class:`~.base.RandomTaskOrder`).
    """

    def __init__(self, seed: int = 0) -> None:
        self.order = RandomTaskOrder(seed)

    def __call__(self, grads: Tensor) -> Tensor:
        return pcgrad(grads, self.order(grads.shape[0]))

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)
