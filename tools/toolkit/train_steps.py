"""mmengine training steps of a config's model on random batches, for the
benchmarks that time and weigh them."""
from typing import Callable, Dict, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmsquad.registry import MODELS, OPTIMIZERS
from mmsquad.tasks import TASK_PRESETS
from mmsquad.utils import register_all_modules
from .samples import random_samples

StepAt = Callable[[int, int], Callable[[], None]]
#: The PASCAL-Context configs of SquadNet-small and of the comparison
#: architectures, by the name the benchmarks print (relative to the repo).
ARCHITECTURE_CONFIGS = {
    'SquadNet-small': 'configs/squad/pascal_ctx.py',
    'shared ResNet-18': 'configs/baselines/shared_r18_pascal_ctx.py',
    'Cross-Stitch': 'configs/baselines/cross_stitch_pascal_ctx.py',
    'NDDR-CNN': 'configs/baselines/nddr_cnn_pascal_ctx.py',
    'MTAN': 'configs/baselines/mtan_pascal_ctx.py',
    'PAD-Net': 'configs/baselines/padnet_pascal_ctx.py',
    'MTI-Net': 'configs/baselines/mtinet_pascal_ctx.py',
}


def many_tasks(model_cfg: dict, count: int) -> dict:
    """Changes to a model config that give it ``count`` tasks: its own
    tasks first, then copies of them named ``<task>_<k>`` (same kind, head
    and loss), every task weighted 1."""
    base = list(model_cfg['heads'])
    heads, tasks = {}, {}
    for index in range(count):
        name = base[index % len(base)]
        copy_name = name if index < len(base) else \
            f'{name}_{index // len(base) + 1}'
        heads[copy_name] = model_cfg['heads'][name]
        tasks[copy_name] = TASK_PRESETS[name]
    return dict(heads=heads, tasks=tasks,
                task_weights={name: 1.0 for name in heads})


def build_train_step(config: str, method: dict,
                     model_changes: Optional[Dict] = None
                     ) -> Tuple[torch.nn.Module, StepAt]:
    """The model of ``config`` (``model_changes`` replacing its keys) with the
    training method ``method`` (see
    :func:`toolkit.method_catalogue.training_methods`; its
    ``optim_wrapper`` a config, or a callable ``(model, optimizer)`` giving
    the optim wrapper), and
    ``step_at(batch, size)``: a call running one ``train_step`` (SGD) on a
    random ``batch`` x3x``size``^2 batch."""
    register_all_modules()
    torch.manual_seed(0)
    cfg = Config.fromfile(config).model
    for key, value in (model_changes or {}).items():  # replaced, not merged
        cfg[key] = value
    if 'loss_balancer' in method:
        cfg.loss_balancer = method['loss_balancer']
    model = MODELS.build(cfg).train()
    optimizer = dict(type='SGD', lr=1e-3, momentum=0.9)
    if callable(method['optim_wrapper']):
        wrapper = method['optim_wrapper'](
            model, OPTIMIZERS.build(dict(optimizer,
                                         params=model.parameters())))
    else:
        wrapper = build_optim_wrapper(
            model, dict(method['optim_wrapper'], optimizer=optimizer))

    def step_at(batch: int, size: int) -> Callable[[], None]:
        data = dict(inputs=[torch.randint(0, 256, (3, size, size),
                                          dtype=torch.uint8)
                            for _ in range(batch)],
                    data_samples=random_samples(model.tasks, batch, size))
        return lambda: model.train_step(data, wrapper)
    return model, step_at
