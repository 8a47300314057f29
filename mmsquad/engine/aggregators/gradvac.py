"""Gradient Vaccine (Wang et al., ICLR 2021)."""
from typing import List, Optional

from mmengine.logging import MessageHub
from torch import Tensor

from mmsquad.registry import AGGREGATORS
from .base import BaseAggregator, RandomTaskOrder

TARGET_UPDATES = ('always', 'below_target')


def gradvac(grads: Tensor, order: List[List[int]], targets: Tensor,
            beta: float, update: str = 'always') -> Tensor:
    """Gradient Vaccine on the whole shared vector.

    Where the cosine of tasks ``i`` and ``j`` is below its running target
    ``targets[i, j]``, move ``g_i`` towards ``g_j`` until it reaches the
    target; then update the targets by an EMA with rate ``beta`` (in place):
    every visited pair (``update='always'``, the paper's rule) or only the
    pairs whose cosine was below target (``'below_target'``, the code the
    SquadNet paper's runs used). Returns the sum of the adjusted gradients.
    """
    result = grads.new_zeros(grads.shape[1])
    for i, others in enumerate(order):
        g = grads[i].clone()
        for j in others:
            g_j = grads[j]
            cos = g @ g_j / (g.norm() * g_j.norm()).clamp_min(1e-20)
            target = targets[i, j]
            if cos < target:
                coef = g.norm() * (target * (1 - cos ** 2).sqrt() -
                                   cos * (1 - target ** 2).sqrt()) / (
                    g_j.norm() * (1 - target ** 2).sqrt()).clamp_min(1e-20)
                g = g + coef * g_j
            if update == 'always' or cos < target:
                targets[i, j] = (1 - beta) * target + beta * cos
        result += g
    return result


@AGGREGATORS.register_module()
class GradVac(BaseAggregator):
    """Gradient Vaccine (see :func:`gradvac`), visiting the other tasks in
    a random order.

    The defaults are the paper's; ``target_update='below_target',
    reset_every_epoch=True`` is the variant of the code the SquadNet
    paper's runs used.

    Args:
        beta: EMA rate of the target cosines.
        target_update: ``'always'`` or ``'below_target'`` (see
            :func:`gradvac`).
        reset_every_epoch: Set the targets back to zero at the first update
            of every epoch (the epoch as the runner's message hub has it).
        seed: Seed of the random task order.
    """

    def __init__(self, beta: float = 0.01, target_update: str = 'always',
                 reset_every_epoch: bool = False, seed: int = 0) -> None:
        if target_update not in TARGET_UPDATES:
            raise ValueError(f'GradVac: target_update must be one of '
                             f'{TARGET_UPDATES}, got {target_update!r}')
        self.beta = beta
        self.target_update = target_update
        self.reset_every_epoch = reset_every_epoch
        self.order = RandomTaskOrder(seed)
        self.targets: Optional[Tensor] = None
        self.targets_epoch: Optional[int] = None

    def __call__(self, grads: Tensor) -> Tensor:
        epoch = int(MessageHub.get_current_instance().get_info('epoch', 0))
        if self.targets is None or (self.reset_every_epoch and
                                    epoch != self.targets_epoch):
            self.targets = grads.new_zeros(grads.shape[0], grads.shape[0])
        self.targets_epoch = epoch
        return gradvac(grads, self.order(grads.shape[0]), self.targets,
                       self.beta, self.target_update)

    def state_dict(self) -> dict:
        return dict(self.order.state_dict(), gradvac_targets=self.targets,
                    gradvac_targets_epoch=self.targets_epoch)

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)
        self.targets = state.get('gradvac_targets')
        self.targets_epoch = state.get('gradvac_targets_epoch')
