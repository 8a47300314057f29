"""Gradient surgery as one optim wrapper: any aggregator, any precision."""
import contextlib
from typing import Dict, List, Optional, Union

import torch
from mmengine.dist import get_world_size
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import Tensor, nn
from torch.optim import Optimizer

from mmsquad.models.utils import TaskLosses
from mmsquad.registry import AGGREGATORS, OPTIM_WRAPPERS
from ..aggregators import BaseAggregator
from ..task_gradients import per_task_gradients
from .cpu_amp_optimizer_wrapper import CPUAmpOptimWrapper

SURGERY_ON = ('shared', 'all')


def precision_wrapper(optimizer: Optimizer, amp: bool,
                      clip_grad: Optional[dict] = None,
                      loss_scale: Union[str, float, dict] = 'dynamic',
                      dtype: Optional[str] = None) -> OptimWrapper:
    """The optim wrapper that runs ``optimizer`` in float32 or, with
    ``amp``, in mixed precision on this machine: mmengine's
    ``AmpOptimWrapper`` (``loss_scale``, ``dtype``) with CUDA, else
    :class:`CPUAmpOptimWrapper` (bfloat16 autocast)."""
    if not amp:
        return OptimWrapper(optimizer, clip_grad=clip_grad)
    if torch.cuda.is_available():
        return AmpOptimWrapper(optimizer=optimizer, clip_grad=clip_grad,
                               loss_scale=loss_scale, dtype=dtype)
    return CPUAmpOptimWrapper(optimizer=optimizer, clip_grad=clip_grad)


@OPTIM_WRAPPERS.register_module()
class GradSurgeryOptimWrapper(OptimWrapper):
    """Replace the gradient of the shared parameters by what an aggregator
    makes of the per-task gradients (PCGrad, GradVac, CAGrad, Nash-MTL,
    ConFIG, DB-MTL, or any of torchjd's: the ``AGGREGATORS`` registry).

    The per-task losses and the shared parameters come from the model's
    ``train_step`` (see :class:`~mmsquad.models.utils.TaskLosses`); the
    per-task gradients are averaged over processes before the aggregator
    sees them, so every process applies the same update under DDP. The
    other parameters keep their ordinary gradient, or with
    ``surgery_on='all', unweighted_losses=True`` (the form of the
    PCGrad/GradVac code the SquadNet paper's runs used) the aggregator
    combines the unweighted losses' gradients over every trained parameter.

    Precision is composed, not inherited: the backward, the step (loss
    scaling, clipping) and the autocast context are those of a float32 or
    mixed-precision optim wrapper on the same optimizer (see
    :func:`precision_wrapper`); under AMP the per-task gradients are taken
    from scaled losses and unscaled, and the result is scaled back for the
    loss scaler's own unscale-and-check step. ``tools/train.py --amp`` sets
    ``amp=True``.

    Args:
        optimizer: The optimizer.
        aggregator: Config of an aggregator of ``AGGREGATORS``
            (``dict(type='PCGrad')``, ``dict(type='torchjd.UPGrad')``).
        surgery_on: ``'shared'`` (the model's shared parameters) or
            ``'all'`` (every parameter the optimizer trains).
        unweighted_losses: Differentiate the task losses before their
            weights (fixed and balanced) are applied.
        amp: Train in mixed precision (see :func:`precision_wrapper`).
        loss_scale: Loss scaling of CUDA mixed precision, as mmengine's
            ``AmpOptimWrapper`` takes it.
        dtype: Autocast dtype of CUDA mixed precision (``'bfloat16'``;
            default float16).
        clip_grad: Gradient clipping, as mmengine's ``OptimWrapper``.
        accumulative_counts: Gradient accumulation, as mmengine's.

    Example:
        >>> optim_wrapper = dict(
        ...     type='GradSurgeryOptimWrapper',
        ...     aggregator=dict(type='PCGrad'),
        ...     optimizer=dict(type='Adam', lr=1e-4))
    """

    #: Tells the model's ``train_step`` to hand over the per-task losses.
    takes_task_losses = True

    def __init__(self,
                 optimizer: Optimizer,
                 aggregator: Union[dict, BaseAggregator],
                 surgery_on: str = 'shared',
                 unweighted_losses: bool = False,
                 amp: bool = False,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[str] = None,
                 clip_grad: Optional[dict] = None,
                 accumulative_counts: int = 1) -> None:
        if surgery_on not in SURGERY_ON:
            raise ValueError(f'GradSurgeryOptimWrapper: surgery_on must be '
                             f'one of {SURGERY_ON}, got {surgery_on!r}')
        super().__init__(optimizer, accumulative_counts=accumulative_counts)
        self.aggregator = aggregator if isinstance(
            aggregator, BaseAggregator) else AGGREGATORS.build(aggregator)
        self.surgery_on = surgery_on
        self.unweighted_losses = unweighted_losses
        self.precision = precision_wrapper(optimizer, amp, clip_grad,
                                           loss_scale, dtype)

    @property
    def loss_scaler(self) -> Optional[torch.amp.GradScaler]:
        """The loss scaler of CUDA mixed precision, else None."""
        return getattr(self.precision, 'loss_scaler', None)

    def update_params(self, loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None,
                      task_losses: Optional[TaskLosses] = None) -> None:
        """Backward with surgery, then step as ``OptimWrapper`` does.

        Raises:
            TypeError: Without ``task_losses`` (a model whose
                ``train_step`` does not hand them over).
        """
        if task_losses is None:
            raise TypeError(
                'GradSurgeryOptimWrapper needs the per-task losses, which '
                "the model's train_step hands over: train a MultiTaskModel "
                '(under DDP wrapped by MultiTaskDistributedDataParallel, '
                'the model_wrapper_cfg of configs/_base_/default_runtime.py)')
        losses = task_losses.unweighted() if self.unweighted_losses else \
            task_losses.losses
        params = task_losses.shared_params if self.surgery_on == 'shared' \
            else [p for group in self.optimizer.param_groups
                  for p in group['params'] if p.requires_grad]
        scaler = self.loss_scaler
        scale = float(scaler.get_scale()) if scaler is not None else 1.0
        # scale_loss divides by the gradient-accumulation count, no more.
        combined = self.surgery_gradient(
            {task: self.scale_loss(value) for task, value in
             self.aggregator.surgery_losses(losses).items()}, params, scale)
        previous = [p.grad for p in params]
        for p in params:
            p.grad = None
        ordinary = self.scale_loss(self.aggregator.ordinary_loss(loss,
                                                                 losses))
        if get_world_size() > 1:
            # DDP's reducer waits for every parameter's gradient.
            self.backward(ordinary)
        else:
            # Only the parameters outside the surgery need the ordinary
            # gradient (the others are replaced below): the backward stops
            # where they end, short of the shared encoder.
            surgery = {id(p) for p in params}
            others = [p for group in self.optimizer.param_groups
                      for p in group['params']
                      if p.requires_grad and id(p) not in surgery]
            if others:
                self.backward(ordinary, inputs=others)
            else:
                self._inner_count += 1
        offset = 0
        for p, prev in zip(params, previous):
            # Written in the parameter's own layout (e.g. channels-last), as
            # autograd would leave it, so the optimizer step runs dense.
            part = torch.empty_like(p).copy_(
                combined[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
            p.grad = part if prev is None else prev + part
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def surgery_gradient(self, losses: Dict[str, Tensor],
                         params: List[nn.Parameter], scale: float) -> Tensor:
        """The aggregator's gradient of ``params`` (flattened) from the
        per-task ``losses``, multiplied by the AMP loss ``scale`` (for the
        loss scaler's own unscale-and-check step). The graph is kept for
        the ordinary backward that follows."""
        return self.aggregator(per_task_gradients(losses, params,
                                                  scale)) * scale

    def backward(self, loss: Tensor, **kwargs) -> None:
        """The precision's backward (scaled under CUDA AMP)."""
        self.precision.backward(loss, **kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        """The precision's step (unscale, clip, step, update the scale)."""
        self.precision.step(**kwargs)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient accumulation's context under the precision's autocast."""
        with super().optim_context(model), \
                self.precision.optim_context(model):
            yield

    def state_dict(self) -> dict:
        """The precision's state (optimizer, loss scaler) and the
        aggregator's."""
        return dict(self.precision.state_dict(),
                    aggregator=self.aggregator.state_dict())

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        self.aggregator.load_state_dict(state_dict.pop('aggregator', {}))
        self.precision.load_state_dict(state_dict)
