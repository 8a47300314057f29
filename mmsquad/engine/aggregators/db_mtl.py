"""Dual-balancing multi-task learning (Lin et al., 2023)."""
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from torch import Tensor

from mmsquad.registry import AGGREGATORS
from .base import BaseAggregator


@AGGREGATORS.register_module()
class DBMTL(BaseAggregator):
    """DB-MTL as LibMTL's ``DB_MTL``: the loss scales balanced by taking
    ``log(L_t + eps)``, the gradient magnitudes by scaling every task's
    (moving-average) gradient to the largest norm.

    The per-task gradients of the log-losses enter a moving average
    ``m_t <- g_t + beta / k ** beta_sigma * (m_t - g_t)`` at update ``k``;
    the shared gradient is ``sum_t max_s ||m_s|| / ||m_t|| * m_t``, and
    the other parameters get the gradient of ``sum_t log(L_t + eps)``
    (the task weights cancel in the logarithm), ``L_t`` over the whole
    batch of all processes. Not in torchjd: the moving average and the log
    transform are outside its aggregator interface. The averages and the
    update count are part of the ``state_dict``.

    Args:
        beta: Moving-average rate (LibMTL's default 0.9).
        beta_sigma: Decay exponent of the rate over updates (0.5).
        eps: Added to the losses before the logarithm.
    """

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.5,
                 eps: float = 1e-8) -> None:
        self.beta, self.beta_sigma, self.eps = beta, beta_sigma, eps
        self.updates = 0
        self.average: Optional[Tensor] = None

    def surgery_losses(self, losses: Dict[str, Tensor]
                       ) -> Dict[str, Tensor]:
        """Losses whose gradients are those of ``log(L_t + eps)`` with
        ``L_t`` the loss of the whole batch over all processes:
        ``L_t / (mean over processes of L_t + eps)``, the denominator
        detached (a logarithm per process would average ``grad L / L``
        of each process's part instead)."""
        values = torch.stack([v.detach() for v in losses.values()])
        if get_world_size() > 1:
            all_reduce(values, op='mean')
        return {task: value / (total + self.eps)
                for (task, value), total in zip(losses.items(), values)}

    def ordinary_loss(self, loss: Tensor,
                      losses: Dict[str, Tensor]) -> Tensor:
        return sum(self.surgery_losses(losses).values())

    def __call__(self, grads: Tensor) -> Tensor:
        self.updates += 1
        if self.average is None:
            self.average = torch.zeros_like(grads)
        rate = self.beta / self.updates ** self.beta_sigma
        self.average = grads + rate * (self.average - grads)
        norms = self.average.norm(dim=1)
        return (norms.max() / (norms + 1e-8)) @ self.average

    def state_dict(self) -> dict:
        return dict(dbmtl_updates=self.updates, dbmtl_average=self.average)

    def load_state_dict(self, state: dict) -> None:
        self.updates = state.get('dbmtl_updates', 0)
        self.average = state.get('dbmtl_average')
