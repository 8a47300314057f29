"""mmengine's DDP wrapper that hands the per-task losses on."""
import logging
from typing import Dict, Union

import torch
from mmcv.ops import SyncBatchNorm as MMSyncBatchNorm
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.model.wrappers.distributed import detect_anomalous_params
from torch import nn

from mmsquad.registry import MODEL_WRAPPERS
from ..utils import update_params


@MODEL_WRAPPERS.register_module()
class MultiTaskDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` whose training step hands the optim
    wrapper the per-task losses of a
    :class:`~mmsquad.models.MultiTaskModel` (its ``task_losses``) when the
    wrapper takes them, as the model's own ``train_step`` does outside DDP
    (mmengine's wrapper calls the step itself and would hand over the total
    loss only). The tools set it for distributed runs where the config
    names no wrapper (:func:`~mmsquad.utils.dist.use_multitask_ddp`).

    On CPU processes (gloo) its SyncBN layers become BatchNorm
    (:func:`per_process_batchnorm`), which torch's DDP would refuse.
    """

    def __init__(self, module: nn.Module, **kwargs) -> None:
        if {p.device.type for p in module.parameters()} == {'cpu'}:
            module = per_process_batchnorm(module)
        super().__init__(module=module, **kwargs)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper) -> Dict[str, torch.Tensor]:
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.module.parse_losses(losses)
        update_params(optim_wrapper, parsed,
                      lambda: self.module.task_losses(losses))
        if self.detect_anomalous_params:
            detect_anomalous_params(parsed, model=self)
        return log_vars


def per_process_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with its SyncBN layers (torch's and mmcv's) as BatchNorm,
    with a warning naming them.

    Both run on GPUs only (torch's DDP refuses a CPU module holding one),
    and mmseg's configs give their heads SyncBN. mmengine's runner reverts
    them the same way when it trains in one process; across CPU processes
    each then normalises over its own batch, as the model's other
    BatchNorm layers do.
    """
    synced = [name for name, layer in module.named_modules()
              if isinstance(layer, (nn.SyncBatchNorm, MMSyncBatchNorm))]
    if not synced:
        return module
    print_log(
        f'{len(synced)} SyncBN layers ({", ".join(synced[:3])}'
        f'{", ..." if len(synced) > 3 else ""}) run as BatchNorm: SyncBN '
        'needs GPUs; each CPU process normalises over its own batch',
        logger='current', level=logging.WARNING)
    return revert_sync_batchnorm(module)
