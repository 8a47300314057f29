"""Gradient surgery from the Gramian that torchjd's ``autogram`` engine
computes: the route the benchmarks time against mmsquad's per-task
backward passes.

torchjd's Gramian-weighted aggregators (UPGrad, MGDA, DualProj, ...)
combine the per-task gradients with weights that depend on their Gramian
alone, so the engine's Gramian and one backward of the weighted losses
give the update of :class:`~mmsquad.engine.GradSurgeryOptimWrapper` with
the same aggregator without materialising the per-task gradients. On one
process only: under DDP the Gramian of the averaged gradients is not the
average of the processes' Gramians.
"""
from typing import Dict, List

import torch
from mmengine.dist import get_world_size
from torch import Tensor, nn
from torch.optim import Optimizer
from torchjd.autogram import Engine

from mmsquad.engine import GradSurgeryOptimWrapper


def shared_modules(model: nn.Module) -> List[nn.Module]:
    """The fewest modules of a ``MultiTaskModel`` whose parameters are
    exactly its shared parameters (for the engine to hook; it hooks a
    module with all its children).

    Raises:
        ValueError: For a module holding shared parameters directly beside
            parameters of single tasks (the engine would count the latter).
    """
    shared = {id(p) for p in model.shared_parameters()}

    def cover(module: nn.Module) -> List[nn.Module]:
        params = [p for p in module.parameters() if p.requires_grad]
        if params and all(id(p) in shared for p in params):
            return [module]
        if any(id(p) in shared for p in module.parameters(recurse=False)):
            raise ValueError(f'{type(module).__name__} holds shared '
                             'parameters beside parameters of single tasks')
        return [found for child in module.children()
                for found in cover(child)]
    return cover(model)


class GramianSurgeryOptimWrapper(GradSurgeryOptimWrapper):
    """``GradSurgeryOptimWrapper(aggregator=dict(type='torchjd.<name>'))``
    whose gradient of the shared parameters is computed from the Gramian
    of torchjd's ``autogram`` engine: ``sum_i w_i grad L_i``, ``w`` the
    aggregator's weighting of the engine's Gramian, in one backward of the
    weighted losses. Everything else (the ordinary gradient of the other
    parameters, precision, the step) is the optim wrapper's.

    Args:
        optimizer: The optimizer.
        model: The ``MultiTaskModel`` (its shared modules are hooked, so
            build this before its first forward).
        aggregator: The name of a torchjd aggregator that weights by the
            Gramian (``'UPGrad'``).
    """

    def __init__(self, optimizer: Optimizer, model: nn.Module,
                 aggregator: str) -> None:
        super().__init__(optimizer, dict(type=f'torchjd.{aggregator}'))
        if not self.aggregator.weights_by_gramian:
            raise TypeError(f'{aggregator} does not weight by the Gramian')
        self.engine = Engine(*shared_modules(model), batch_dim=None)

    def surgery_gradient(self, losses: Dict[str, Tensor],
                         params: List[nn.Parameter], scale: float) -> Tensor:
        """Raises:
            RuntimeError: Under DDP (the processes' Gramians cannot be
                averaged into the Gramian of the averaged gradients).
        """
        if get_world_size() > 1:
            raise RuntimeError('the Gramian route runs on one process only')
        values = torch.stack(list(losses.values())) * scale
        weights = self.aggregator.gramian_weights(
            self.engine.compute_gramian(values) / scale**2)
        grads = torch.autograd.grad(weights.to(values.dtype) @ values,
                                    params, retain_graph=True,
                                    materialize_grads=True)
        return torch.cat([g.reshape(-1) for g in grads])
