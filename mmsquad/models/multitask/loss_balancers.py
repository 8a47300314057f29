"""Loss balancing: per-task weights that change during training.

A balancer takes the tasks' (fixed-weighted) losses and returns a weight per
task and extra loss terms of its own; :class:`MultiTaskModel` multiplies
and sums. Fixed weights are the default (no balancer). Uncertainty
weighting and the other scalarizations are torchjd's
(:class:`~mmsquad.models.TorchJDScalarization`); mmsquad keeps DWA (for
DDP) and GradNorm (not in torchjd).
"""
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmsquad.registry import MODELS

BalancerOutput = Tuple[Dict[str, Tensor], Dict[str, Tensor]]


class BaseLossBalancer(BaseModule):
    """Weights for ``tasks``' losses.

    Args:
        tasks: The model's tasks (filled in by :class:`MultiTaskModel`).
    """

    def __init__(self, tasks: Sequence[str]) -> None:
        super().__init__()
        self.tasks = list(tasks)

    def forward(self, losses: Dict[str, Tensor],
                shared_params: Sequence[nn.Parameter]) -> BalancerOutput:
        """``({task: weight}, {extra loss name: value})`` for the tasks'
        total ``losses`` of this batch."""
        raise NotImplementedError


@MODELS.register_module()
class DynamicWeightAverage(BaseLossBalancer):
    """Dynamic weight average (Liu et al., CVPR 2019).

    ``w_t = T * softmax_t(r_t / temperature)`` with ``r_t`` the ratio of the
    task's mean loss in the last two epochs (weights 1 in the first two).
    Epochs come from the runner's message hub; the epoch means are averaged
    over processes. Kept beside torchjd's ``DWA`` (the same weights in one
    process, see the tests) because torchjd's keeps each process's own
    epoch means, so under DDP its processes would weight differently.

    Args:
        tasks: The model's tasks.
        temperature: Softmax temperature (the paper's 2).
    """

    def __init__(self, tasks: Sequence[str], temperature: float = 2.0
                 ) -> None:
        super().__init__(tasks)
        self.temperature = temperature
        num = len(self.tasks)
        # Mean losses of the last two finished epochs, and this epoch's sum.
        self.register_buffer('history', torch.zeros(2, num))
        self.register_buffer('epoch_sum', torch.zeros(num))
        self.register_buffer('epoch_count', torch.zeros(()))
        self.register_buffer('finished', torch.zeros((), dtype=torch.long))
        self.register_buffer('epoch', torch.full((), -1, dtype=torch.long))

    def forward(self, losses: Dict[str, Tensor],
                shared_params: Sequence[nn.Parameter]) -> BalancerOutput:
        hub = MessageHub.get_current_instance()
        epoch = int(hub.get_info('epoch', 0))
        if self.training:
            if epoch != int(self.epoch) and self.epoch_count > 0:
                self._finish_epoch()
            self.epoch.fill_(epoch)
            self.epoch_sum += torch.stack(
                [losses[t].detach() for t in self.tasks])
            self.epoch_count += 1
        if self.finished < 2:
            weight = torch.ones(len(self.tasks))
        else:
            ratio = self.history[1] / self.history[0].clamp_min(1e-12)
            weight = len(self.tasks) * torch.softmax(
                ratio / self.temperature, dim=0)
        return {t: weight[i] for i, t in enumerate(self.tasks)}, {}

    def _finish_epoch(self) -> None:
        mean = self.epoch_sum / self.epoch_count
        if get_world_size() > 1:
            all_reduce(mean, op='mean')
        self.history.copy_(torch.stack([self.history[1], mean]))
        self.finished += 1
        self.epoch_sum.zero_()
        self.epoch_count.zero_()


@MODELS.register_module()
class GradNorm(BaseLossBalancer):
    """GradNorm (Chen et al., ICML 2018).

    Learns weights ``w_t`` (renormalised to sum to the number of tasks) so
    that the gradient norms ``G_t = ||grad_W w_t L_t||`` on the last shared
    weight ``W`` approach ``mean(G) * r_t^alpha``, ``r_t`` the task's
    relative inverse training rate. The task losses are weighted by the
    (detached) ``w``; ``loss_gradnorm = sum_t |G_t - target_t|`` trains
    ``w`` only.

    Args:
        tasks: The model's tasks.
        alpha: Restoring-force strength (the paper's 1.5).
    """

    def __init__(self, tasks: Sequence[str], alpha: float = 1.5) -> None:
        super().__init__(tasks)
        self.alpha = alpha
        self.weights = nn.Parameter(torch.ones(len(self.tasks)))
        self.register_buffer('initial_losses', torch.zeros(len(self.tasks)))

    def forward(self, losses: Dict[str, Tensor],
                shared_params: Sequence[nn.Parameter]) -> BalancerOutput:
        with torch.no_grad():
            self.weights.mul_(len(self.tasks) / self.weights.sum())
        values = torch.stack([losses[t] for t in self.tasks])
        detached = {t: self.weights[i].detach()
                    for i, t in enumerate(self.tasks)}
        if not self.training or not torch.is_grad_enabled():
            return detached, {}
        if not self.initial_losses.any():
            self.initial_losses.copy_(values.detach())
        last = self._last_weight(shared_params)
        norms = torch.stack([
            torch.autograd.grad(v, last, retain_graph=True,
                                allow_unused=True)[0].norm()
            if v.requires_grad else v.new_zeros(()) for v in values])
        grad_norms = self.weights * norms.detach()
        rates = values.detach() / self.initial_losses.clamp_min(1e-12)
        target = grad_norms.mean().detach() * (rates / rates.mean()).pow(
            self.alpha)
        return detached, dict(
            loss_gradnorm=(grad_norms - target).abs().sum())

    @staticmethod
    def _last_weight(shared_params: Sequence[nn.Parameter]) -> nn.Parameter:
        weights: List[nn.Parameter] = [p for p in shared_params
                                       if p.dim() > 1]
        if not weights:
            raise ValueError('GradNorm needs a shared weight tensor (the '
                             'model has no shared parameters)')
        return weights[-1]
