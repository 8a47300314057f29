"""Nash-MTL (Navon et al., ICML 2022)."""
import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor

from mmsquad.registry import AGGREGATORS
from ..task_gradients import gram_matrix
from .base import BaseAggregator


def nash_mtl(grads: Tensor) -> Tensor:
    """The bargaining solution ``sum_i alpha_i g_i`` with ``alpha > 0`` and
    ``alpha_i (K alpha)_i = 1`` for every task, ``K`` the Gram matrix of
    the gradients normalised by its Frobenius norm, as the authors' code.

    ``alpha`` is the minimiser of the convex ``alpha^T K alpha / 2 -
    sum_i log alpha_i``, whose stationarity condition is the one above;
    the authors reach it by concave-convex iterations instead.

    A task whose gradient is zero (a batch without a labelled pixel of
    it) has nothing to bargain with, and no ``alpha`` solves its
    condition: it gets weight 0 and the other tasks bargain among
    themselves. (The authors' solver fails on such a ``K`` and reuses the
    previous update's weights.)
    """
    gram = gram_matrix(grads).cpu().numpy()
    squared_norms = np.diag(gram)
    players = squared_norms > 1e-20 * squared_norms.max()
    alpha = np.zeros(len(gram))
    if players.any():
        alpha[players] = _bargaining_weights(gram[np.ix_(players, players)])
    return torch.as_tensor(alpha, dtype=grads.dtype,
                           device=grads.device) @ grads


def _bargaining_weights(gram: np.ndarray) -> np.ndarray:
    """The ``alpha > 0`` of :func:`nash_mtl` for a Gram matrix whose
    diagonal is positive."""
    gram = gram / np.linalg.norm(gram)

    def objective(log_alpha: np.ndarray):
        alpha = np.exp(log_alpha)  # positivity by parametrisation
        k_alpha = gram @ alpha
        value = 0.5 * alpha @ k_alpha - log_alpha.sum()
        return value, alpha * k_alpha - 1.0

    solution = minimize(objective, np.zeros(len(gram)), jac=True,
                        method='L-BFGS-B',
                        options=dict(ftol=0.0, gtol=1e-12, maxiter=1000))
    return np.exp(solution.x)


@AGGREGATORS.register_module()
class NashMTL(BaseAggregator):
    """Nash-MTL (see :func:`nash_mtl`); the weights are solved at every
    update. Clip the result with the optim wrapper's ``clip_grad`` as the
    authors do (``max_norm=1``) where wanted."""

    def __call__(self, grads: Tensor) -> Tensor:
        return nash_mtl(grads)
