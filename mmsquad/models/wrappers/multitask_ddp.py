"""mmengine's DDP wrapper that hands the per-task losses on."""
from typing import Dict, Union

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.model.wrappers.distributed import detect_anomalous_params

from mmsquad.registry import MODEL_WRAPPERS
from ..utils import update_params


@MODEL_WRAPPERS.register_module()
class MultiTaskDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` whose training step hands the optim
    wrapper the per-task losses of a
    :class:`~mmsquad.models.MultiTaskModel` (its ``task_losses``) when the
    wrapper takes them, as the model's own ``train_step`` does outside DDP
    (mmengine's wrapper calls the step itself and would hand over the total
    loss only). Set by ``configs/_base_/default_runtime.py``
    (``model_wrapper_cfg``) and by the tools for distributed runs.
    """

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
