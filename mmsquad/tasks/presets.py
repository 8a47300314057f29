"""The task names mmsquad ships, and building tasks from config."""
from typing import Dict, Mapping, Sequence, Tuple, Union

from mmsquad.registry import TASKS
from .base_task import BaseTask

#: Kinds and parameters of the shipped task names (the PASCAL-Context and
#: NYUD-v2 benchmarks and the underwater setting). A config names a preset
#: or defines its own task: ``dict(road=dict(type='LabelMapTask',
#: num_classes=2))``.
TASK_PRESETS: Dict[str, dict] = dict(
    semseg=dict(type='LabelMapTask', num_classes=21, background=0),
    human_parts=dict(type='LabelMapTask', num_classes=7, background=0),
    sal=dict(type='BinaryMapTask'),
    edge=dict(type='BoundaryMapTask', max_dist=0.0075),
    normals=dict(type='UnitVectorTask'),
    depth=dict(type='ScalarMapTask', unit='m', distance=True),
    enhance=dict(type='ImageTask'),
    det=dict(type='BoxTask'),
)

TaskCfg = Union[None, dict, BaseTask]
TasksCfg = Union[Sequence[Union[str, dict, BaseTask]], Mapping[str, TaskCfg]]


def build_task(name: str, cfg: TaskCfg = None) -> BaseTask:
    """The task ``name`` of kind ``cfg`` (a config of the ``TASKS``
    registry or a built task); without ``cfg``, the preset of that name.

    Raises:
        KeyError: For a name that is no preset and has no config.
    """
    if isinstance(cfg, BaseTask):
        if cfg.name is None:
            cfg.name = name
        elif cfg.name != name:
            raise ValueError(f'task {name!r} is given a task named '
                             f'{cfg.name!r}')
        return cfg
    if cfg is None:
        if name not in TASK_PRESETS:
            raise KeyError(
                f'{name!r} is not a preset task ({sorted(TASK_PRESETS)}); '
                f'define it in the config, e.g. tasks=dict({name}=dict('
                f"type='LabelMapTask', num_classes=2)); task kinds: "
                f'{sorted(TASKS.module_dict)}')
        cfg = TASK_PRESETS[name]
    return TASKS.build(dict(cfg, name=name))


def build_tasks(tasks: TasksCfg) -> Dict[str, BaseTask]:
    """``{name: task}``, in the given order, from a list whose items are
    preset names, kind configs with a ``name`` (``dict(name='road',
    type='LabelMapTask', num_classes=2)``) or built tasks; or from a dict
    ``{name: kind config (None: the preset)}``.

    The list form is the one to use in configs that inherit a task list:
    mmengine replaces an inherited list, but refuses to merge a dict into
    it.

    Raises:
        ValueError: For a repeated name, or tasks whose samples would
            share a field (two box tasks; a task named ``sem_seg`` beside
            a box task, which carries mmdet's ``gt_sem_seg``).
    """
    if isinstance(tasks, Mapping):
        built = {name: build_task(name, cfg) for name, cfg in tasks.items()}
    else:
        items = [_named(item) for item in tasks]
        names = [name for name, _ in items]
        if len(set(names)) != len(names):
            raise ValueError(f'duplicate task names in {names}')
        built = {name: build_task(name, cfg) for name, cfg in items}
    fields = [f for t in built.values() for f in t.sample_fields]
    repeated = sorted({f for f in fields if fields.count(f) > 1})
    if repeated:
        owners = [n for n, t in built.items()
                  if set(t.sample_fields) & set(repeated)]
        raise ValueError(f'tasks {owners} share the sample fields '
                         f'{repeated}: a model has at most one box task, '
                         'and no other task may be named after a field a '
                         'box task carries')
    return built


def task_configs(tasks: Mapping[str, BaseTask]) -> Dict[str, dict]:
    """``{name: kind config}`` of built tasks (see
    :attr:`~mmsquad.tasks.BaseTask.config`): plain data, for a dataset's
    ``metainfo`` and for messages."""
    return {name: task.config for name, task in tasks.items()}


def _named(item: Union[str, dict, BaseTask]) -> Tuple[str, TaskCfg]:
    """``(name, kind config or None)`` of one item of a task list."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, BaseTask):
        return item.name, item
    if 'name' not in item:
        raise KeyError(f'the task {dict(item)} has no name; give it '
                       "name='...'")
    cfg = dict(item)
    return cfg.pop('name'), cfg
