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
from typing import Dict, List, Optional

import torch
import torchjd.aggregation as aggregation
from mmengine.optim import OptimWrapper
from torch import Tensor, nn
from torch.optim import Optimizer
from torchjd.autogram import Engine

from mmsquad.models.utils import TaskLosses


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


class GramianSurgeryOptimWrapper(OptimWrapper):
    """``GradSurgeryOptimWrapper(aggregator=dict(type='torchjd.<name>'))``
    computed from the Gramian of torchjd's ``autogram`` engine: the shared
    parameters get ``sum_i w_i grad L_i`` with ``w`` the aggregator's
    weighting of the Gramian, the other parameters the ordinary gradient.

    Args:
        optimizer: The optimizer.
        model: The ``MultiTaskModel`` (its shared modules are hooked, so
            build this before its first forward).
        aggregator: The name of a Gramian-weighted torchjd aggregator
            (``'UPGrad'``).
    """

    takes_task_losses = True

    def __init__(self, optimizer: Optimizer, model: nn.Module,
                 aggregator: str) -> None:
        super().__init__(optimizer)
        built = getattr(aggregation, aggregator)()
        if not isinstance(built, aggregation.GramianWeightedAggregator):
            raise TypeError(f'{aggregator} does not weight by the Gramian')
        self.weighting = built.gramian_weighting
        self.engine = Engine(*shared_modules(model), batch_dim=None)

    def update_params(self, loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None,
                      task_losses: Optional[TaskLosses] = None) -> None:
        values = torch.stack(list(task_losses.losses.values()))
        weights = self.weighting(self.engine.compute_gramian(values))
        shared = task_losses.shared_params
        grads = torch.autograd.grad(weights @ values, shared,
                                    retain_graph=True)
        surgery = {id(p) for p in shared}
        others = [p for group in self.optimizer.param_groups
                  for p in group['params']
                  if p.requires_grad and id(p) not in surgery]
        if others:
            self.backward(loss, inputs=others)
        else:
            self._inner_count += 1
        for p, grad in zip(shared, grads):
            p.grad = grad if p.grad is None else p.grad + grad
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))
