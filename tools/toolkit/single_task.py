"""Single-task reference configs derived from a multi-task config."""
from typing import List, Union

from mmengine.config import Config, ConfigDict

#: Optim wrappers a single-task reference may keep (the others combine
#: several tasks' gradients).
PLAIN_OPTIM_WRAPPERS = ('OptimWrapper', 'AmpOptimWrapper',
                        'CPUAmpOptimWrapper')
#: Hooks that need two tasks or more.
MULTI_TASK_HOOKS = ('GradConflictHook', )


def single_task_config(cfg: Config, task: str,
                       trunk: str = 'same') -> Config:
    """The config of ``task``'s single-task reference: ``cfg`` with only
    that task's head, dataset targets and metric; the same data, schedule
    and seed; no task weights, loss balancer, gradient-conflict hook or
    references.

    Args:
        cfg: A multi-task config (left unchanged).
        task: The task to keep.
        trunk: ``'same'``: the multi-task config's own backbone and neck
            (one task group); ``'shared_encoder'``: the SquadNet trunk
            without squads or task routing (``backbone.block_type='plain'``,
            no neck), as the ``configs/baselines/single_task_*`` configs.

    Raises:
        KeyError: When ``cfg`` has no head for ``task``.
        ValueError: For a gradient-combining optim wrapper, or an unknown
            ``trunk``.
    """
    if trunk not in ('shared_encoder', 'same'):
        raise ValueError(f"trunk must be 'shared_encoder' or 'same', got "
                         f'{trunk!r}')
    cfg = Config(cfg.to_dict(), filename=cfg.filename)
    model = cfg.model
    if task not in model.heads:
        raise KeyError(f'{cfg.filename}: no head for task {task!r}; heads: '
                       f'{sorted(model.heads)}')
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper not in PLAIN_OPTIM_WRAPPERS:
        raise ValueError(f'{cfg.filename}: {wrapper} combines the tasks\' '
                         'gradients; derive single-task references from '
                         f'a config with one of {PLAIN_OPTIM_WRAPPERS}')
    model.heads = ConfigDict({task: model.heads[task]})
    model.task_weights = None
    model.pop('loss_balancer', None)
    if model.get('tasks') is not None:
        model.tasks = _only(model.tasks, task)
    if trunk == 'shared_encoder':
        model.backbone.block_type = 'plain'
        model.neck = None
    cfg.custom_hooks = [hook for hook in cfg.get('custom_hooks', [])
                        if hook.get('type') not in MULTI_TASK_HOOKS]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) is not None:
            cfg[loader].dataset.tasks = _only(cfg[loader].dataset.tasks, task)
    for evaluator in ('val_evaluator', 'test_evaluator'):
        if cfg.get(evaluator) is not None:
            if cfg[evaluator].get('tasks') is not None:
                cfg[evaluator].tasks = _only(cfg[evaluator].tasks, task)
            cfg[evaluator].pop('single_task_references', None)
    return cfg


def _only(tasks: Union[list, dict], name: str) -> Union[list, dict]:
    """A task list or dict (see :func:`~mmsquad.tasks.build_tasks`) cut down
    to the task ``name``."""
    if isinstance(tasks, dict):
        return {name: tasks[name]}
    kept: List = [item for item in tasks if
                  (item if isinstance(item, str) else item.get('name')) ==
                  name]
    if len(kept) != 1:
        raise KeyError(f'task {name!r} is not in {tasks}')
    return kept
