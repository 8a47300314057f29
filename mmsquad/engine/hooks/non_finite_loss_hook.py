"""Stop training at the first non-finite loss."""
import math
from typing import List, Optional

import torch
import torch.distributed as dist
from mmengine.hooks import Hook

from mmsquad.registry import HOOKS
from .safe_checkpoint_hook import SAVES_KEY

GRAD_NORM_KEY = 'train/grad_norm'
#: A checkpoint saved with a loss above this many times the median loss
#: before it is not offered for resuming after a divergence.
SANE_LOSS_RATIO = 10.0


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
            '(optim_wrapper.clip_grad) and ' + resume_advice(
                runner.message_hub.get_info(SAVES_KEY, [])))


def resume_advice(saves: List[dict]) -> str:
    """Which checkpoint to resume from after a divergence: the last of
    ``saves`` (as :class:`SafeCheckpointHook` records them) whose logged
    loss was sane, finite and at most :data:`SANE_LOSS_RATIO` times the
    median loss before it (weights saved while the loss grew may already
    be far off)."""
    sane = [save for save in saves
            if save.get('loss') is not None and math.isfinite(save['loss'])
            and save['loss'] <= SANE_LOSS_RATIO * save['median_loss']]
    if not sane:
        return ('start again: no checkpoint of this run was saved while its '
                'loss was sane' if saves else 'start again: this run saved '
                'no checkpoint')
    last = sane[-1]
    later = len(saves) - saves.index(last) - 1
    return (f'resume from {last["path"]} (loss {last["loss"]:.4g} when saved,'
            f' median before {last["median_loss"]:.4g}; the '
            f'{later} later checkpoint(s) were saved with a loss above '
            f'{SANE_LOSS_RATIO}x the median or not finite): tools/train.py '
            f'CONFIG --resume {last["path"]}' if later else
            f'resume from the last checkpoint, {last["path"]} (loss '
            f'{last["loss"]:.4g} when saved, median before '
            f'{last["median_loss"]:.4g})')
