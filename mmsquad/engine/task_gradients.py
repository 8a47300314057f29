"""Per-task gradients of shared parameters, and how much they conflict.

Shared by :class:`~mmsquad.engine.GradConflictHook` (measurement) and the
gradient-surgery optim wrappers (remedy); the per-task losses they start
from come from :mod:`mmsquad.models.utils.task_losses`.
"""
import itertools
from typing import Dict, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size
from torch import Tensor, nn


def per_task_gradients(losses: Dict[str, Tensor],
                       params: Sequence[nn.Parameter],
                       scale: float = 1.0) -> Tensor:
    """The gradient of every task's loss w.r.t. ``params``, flattened.

    The graph is kept (``retain_graph``) and ``.grad`` is not touched, so a
    normal backward can follow. Under distributed training the gradients are
    averaged over the processes, as DDP averages the normal ones.

    Args:
        losses: ``{task: loss}``.
        params: The parameters.
        scale: The AMP loss scale: losses are multiplied by it before
            differentiating and gradients divided after, so that float16
            gradients do not underflow and the result is unscaled.

    Returns:
        A (num_tasks, num_params) tensor, one row per task of ``losses``.
    """
    rows = []
    for loss in losses.values():
        grads = torch.autograd.grad(loss * scale, params, retain_graph=True,
                                    allow_unused=True)
        rows.append(torch.cat([
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, params)
        ]).float() / scale)
    matrix = torch.stack(rows)
    if get_world_size() > 1:
        all_reduce(matrix, op='mean')
    return matrix


def gram_matrix(grads: Tensor, chunk: int = 2**20) -> Tensor:
    """``grads @ grads.T`` in float64 (float32 dot products over millions of
    parameters drift), summed over ``chunk`` columns at a time so that no
    float64 copy of the whole of ``grads`` is made."""
    gram = grads.new_zeros((grads.shape[0], grads.shape[0]),
                           dtype=torch.float64)
    for part in grads.split(chunk, dim=1):
        part = part.double()
        gram += part @ part.T
    return gram


def conflict_stats(gram: Tensor, tasks: Sequence[str]) -> Dict[str, float]:
    """How much the task gradients disagree, from their Gram matrix
    (``gram[i, j]`` the dot product of the gradients of tasks ``i``, ``j``).

    A task whose gradient is zero (no label of it in the batch) has no
    direction: it is left out, and its pairs are not counted.

    Returns:
        ``pairs`` (how many task pairs were measured), ``cos_<a>_<b>`` for
        every measured pair and, when there is one, ``cos_mean`` (their
        mean), ``conflict_rate`` (the fraction with a negative cosine) and
        ``magnitude_ratio`` (largest over smallest gradient norm of the
        measured tasks).
    """
    norms = gram.diagonal().clamp_min(0).sqrt()
    cosine = gram / (norms[:, None] * norms[None]).clamp_min(1e-24)
    measured = [i for i in range(len(tasks)) if norms[i] > 0]
    pairs = list(itertools.combinations(measured, 2))
    stats: Dict[str, float] = dict(pairs=float(len(pairs)))
    if not pairs:
        return stats
    for i, j in pairs:
        stats[f'cos_{tasks[i]}_{tasks[j]}'] = float(cosine[i, j])
    values = [cosine[i, j] for i, j in pairs]
    stats['cos_mean'] = float(sum(values) / len(values))
    stats['conflict_rate'] = float(sum(v < 0 for v in values) / len(values))
    kept = norms[measured]
    stats['magnitude_ratio'] = float(kept.max() / kept.min())
    return stats
