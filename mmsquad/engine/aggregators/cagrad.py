"""Conflict-Averse Gradient descent (Liu et al., NeurIPS 2021)."""
import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor

from mmsquad.registry import AGGREGATORS
from ..task_gradients import gram_matrix
from .base import BaseAggregator


def cagrad(grads: Tensor, c: float) -> Tensor:
    """Finds simplex weights ``w`` minimising ``g_w . g_0 + c ||g_0||
    ||g_w||`` (``g_0`` the mean gradient, ``g_w`` the ``w``-weighted one)
    and returns ``(g_0 + c ||g_0|| / ||g_w|| g_w) / (1 + c^2)``, as the
    authors' code."""
    num_tasks = grads.shape[0]
    gram = gram_matrix(grads).cpu().numpy()
    g0_norm = float(np.sqrt(gram.mean() + 1e-8))
    radius = c * g0_norm + 1e-8
    mean_w = np.full(num_tasks, 1.0 / num_tasks)

    def objective(w: np.ndarray) -> float:
        return float(w @ gram @ mean_w + radius * np.sqrt(w @ gram @ w + 1e-8))

    solution = minimize(objective, mean_w, bounds=[(0, 1)] * num_tasks,
                        constraints={'type': 'eq',
                                     'fun': lambda w: 1 - w.sum()})
    weights = torch.as_tensor(solution.x, dtype=grads.dtype,
                              device=grads.device)
    g_w = weights @ grads
    g = grads.mean(dim=0) + radius / (g_w.norm() + 1e-8) * g_w
    return g / (1 + c ** 2)


@AGGREGATORS.register_module()
class CAGrad(BaseAggregator):
    """CAGrad (see :func:`cagrad`).

    Args:
        c: Radius of the conflict-averse ball, relative to the mean
            gradient's norm (the paper's default 0.4).
    """

    def __init__(self, c: float = 0.4) -> None:
        self.c = c

    def __call__(self, grads: Tensor) -> Tensor:
        return cagrad(grads, self.c)
