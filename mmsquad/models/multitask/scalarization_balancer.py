"""Any scalarization of torchjd (UW, IMTL-L, STCH, geometric mean, DWA,
COSMOS, PBI, random, ...) as a loss balancer."""
import inspect
from typing import Dict, List, Optional, Sequence

import torch
import torchjd.scalarization as scalarization
from mmengine.logging import MessageHub
from torch import Tensor, nn

from mmsquad.registry import MODELS
from .loss_balancers import BalancerOutput, BaseLossBalancer

#: Scalarizations that need more than the batch's losses: FAMO updates its
#: weights from the losses recomputed on the batch after the step.
UNSUPPORTED = {'FAMO': 'it updates its weights from the losses recomputed '
                       'on the same batch after the optimizer step'}


def scalarizer_names() -> List[str]:
    """The scalarizations of ``torchjd.scalarization`` a config can name."""
    return sorted(
        name for name, cls in vars(scalarization).items()
        if inspect.isclass(cls) and issubclass(cls, scalarization.Scalarizer)
        and not inspect.isabstract(cls) and name not in UNSUPPORTED)


def build_scalarizer(cfg: dict, num_tasks: int) -> scalarization.Scalarizer:
    """A torchjd scalarizer from ``dict(type=<class name>, **arguments)``;
    ``shape`` defaults to the number of tasks, list arguments (``weights``,
    ``reference``) become tensors.

    Raises:
        KeyError: For a name that is not a supported torchjd scalarization.
    """
    cfg = dict(cfg)
    name = cfg.pop('type')
    if name in UNSUPPORTED:
        raise KeyError(f'torchjd\'s {name} cannot be a loss balancer: '
                       f'{UNSUPPORTED[name]}')
    if name not in scalarizer_names():
        raise KeyError(f'{name!r} is not a torchjd scalarization; '
                       f'available: {scalarizer_names()}')
    cls = getattr(scalarization, name)
    if 'shape' in inspect.signature(cls.__init__).parameters:
        cfg.setdefault('shape', num_tasks)
    args = {key: torch.tensor(value, dtype=torch.float32)
            if isinstance(value, (list, tuple)) else value
            for key, value in cfg.items()}
    return cls(**args)


@MODELS.register_module()
class TorchJDScalarization(BaseLossBalancer):
    """A torchjd scalarization ``s`` of the tasks' (fixed-weighted) losses.

    The task weights are ``ds/dL_t`` at this batch's losses, so the model's
    gradient is that of ``s(L)``; the extra term ``loss_scalarization``
    makes the total equal ``s(L)`` and trains the scalarization's own
    parameters (UW's log-variances, IMTL-L's scales). Gradient surgery then
    sees each task's loss weighted by ``ds/dL_t``. Scalarizations with an
    epoch state (DWA) are stepped when the runner's epoch changes.

    Args:
        tasks: The model's tasks (filled in by the model).
        scalarizer: ``dict(type='UW')``: a class name of
            ``torchjd.scalarization`` and its arguments.

    Example:
        >>> balancer = TorchJDScalarization(['a', 'b'],
        ...                                 scalarizer=dict(type='UW'))
    """

    def __init__(self, tasks: Sequence[str], scalarizer: dict) -> None:
        super().__init__(tasks)
        self.scalarizer = build_scalarizer(scalarizer, len(self.tasks))
        self._epoch: Optional[int] = None

    def forward(self, losses: Dict[str, Tensor],
                shared_params: Sequence[nn.Parameter]) -> BalancerOutput:
        self._step_epoch_state()
        values = torch.stack([losses[t] for t in self.tasks]).detach()
        values.requires_grad_()
        with torch.enable_grad():
            total = self.scalarizer(values)
            slopes, = torch.autograd.grad(total, values, retain_graph=True)
        weights = {t: slopes[i].detach() for i, t in enumerate(self.tasks)}
        extra = total - (slopes.detach() * values.detach()).sum()
        return weights, dict(loss_scalarization=extra)

    def _step_epoch_state(self) -> None:
        """Call the scalarizer's ``step`` (end of an epoch) when the
        runner's epoch has changed since the last training batch."""
        step = getattr(self.scalarizer, 'step', None)
        if step is None or not self.training:
            return
        epoch = int(MessageHub.get_current_instance().get_info('epoch', 0))
        if self._epoch is not None and epoch != self._epoch:
            step()
        self._epoch = epoch
