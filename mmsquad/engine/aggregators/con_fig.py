"""ConFIG, conflict-free inverse gradients (Liu et al., 2024)."""
from typing import Optional, Sequence

import torch
from torch import Tensor

from mmsquad.registry import AGGREGATORS
from ..task_gradients import gram_matrix
from .base import BaseAggregator


def config_update(grads: Tensor,
                  weights: Optional[Tensor] = None) -> Tensor:
    """ConFIG's Eq. 2, computed from the Gram matrix.

    The direction is ``x = pinv(U) w``, ``U`` the rows ``g_i / ||g_i||``
    and ``w`` the preference weights (ones by default): the least-norm
    ``x`` with the same cosine to every task's gradient. The update is
    ``sum_i (g_i . x_hat) x_hat``. A zero gradient's row is zero, as in
    the authors' code.

    ``pinv(U) w = U^T pinv(U U^T) w``, and ``U U^T`` is the tasks' cosine
    matrix, so this solves a ``num_tasks``-square system and decides the
    rank from it. torchjd's ``ConFIG`` takes ``pinv`` of the
    (num_tasks, num_params) ``U`` with torch's default tolerance,
    ``max(num_tasks, num_params)`` float32 epsilons relative to the
    largest singular value: beyond about 8.4M parameters that is above
    1, every singular value is cut and its update is zero (and below, it
    drops directions of nearly parallel gradients).

    Args:
        grads: (num_tasks, num_params) per-task gradients.
        weights: (num_tasks,) preference weights; ones if None.
    """
    gram = gram_matrix(grads)
    norms = gram.diagonal().sqrt()
    inverse_norms = torch.where(norms > 0, 1 / norms, 0.0)
    cosines = inverse_norms[:, None] * gram * inverse_norms[None]
    if weights is None:
        weights = torch.ones_like(norms)
    # x = coefs @ grads, with coefs_i = (pinv(U U^T) w)_i / ||g_i||.
    coefs = inverse_norms * (torch.linalg.pinv(cosines, hermitian=True)
                             @ weights.to(gram))
    squared_norm = coefs @ gram @ coefs
    if squared_norm <= 0:
        return torch.zeros_like(grads[0])
    length = (gram @ coefs).sum() / squared_norm.sqrt()
    return (length / squared_norm.sqrt() * coefs).to(grads.dtype) @ grads


@AGGREGATORS.register_module()
class ConFIG(BaseAggregator):
    """ConFIG (see :func:`config_update`). torchjd's
    (``type='torchjd.ConFIG'``) computes the same update where it works,
    but its update is zero on models with more than about 8.4M shared
    parameters; this one is the default.

    Args:
        pref_vector: Preference weight of each task, in the order of the
            model's tasks; equal if None.
    """

    def __init__(self, pref_vector: Optional[Sequence[float]] = None
                 ) -> None:
        self.pref_vector = pref_vector

    def __call__(self, grads: Tensor) -> Tensor:
        weights = None if self.pref_vector is None else torch.tensor(
            self.pref_vector, dtype=torch.float64, device=grads.device)
        return config_update(grads, weights)
