"""Stop training at the first non-finite loss."""
import math
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.hooks import Hook

from mmsquad.registry import HOOKS

GRAD_NORM_KEY = 'train/grad_norm'


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop at the first iteration whose loss (any task's) or gradient norm
    is NaN or infinite, naming the iteration and the non-finite values.

    mmdet's ``CheckInvalidLossHook`` looks only every ``interval``
    iterations, at the total loss, through an ``assert`` (gone under
    ``python -O``); by then a diverged run may have saved NaN checkpoints
    and rotated the good ones out. This hook runs every iteration, before
    the logger and the checkpoint hook, and in distributed training all
    ranks stop together (the check is all-reduced).

    The gradient norm is checked where the optim wrapper clips gradients
    (it logs ``train/grad_norm`` then).
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Raise :class:`FloatingPointError` on a non-finite value."""
        values = {name: float(torch.as_tensor(value).detach())
                  for name, value in (outputs or {}).items() if 'loss' in name}
        grad_norm = runner.message_hub.log_scalars.get(GRAD_NORM_KEY)
        if grad_norm is not None:
            values['grad_norm'] = float(grad_norm.current())
        bad = {name: value for name, value in values.items()
               if not math.isfinite(value)}
        any_bad = torch.tensor(float(bool(bad)))
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(any_bad, op=dist.ReduceOp.MAX)
        if not any_bad.item():
            return
        where = (', '.join(f'{k}={v}' for k, v in bad.items()) if bad else
                 'on another rank')
        raise FloatingPointError(
            f'training diverged at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}): non-finite {where}; stopped before '
            'saving. Lower the learning rate or clip gradients '
            '(optim_wrapper.clip_grad) and resume from the last checkpoint')
