"""How a dataset publishes its tasks: ``metainfo['tasks']`` (plain kind
configs, as mmengine passes a dataset's metainfo on as ``dataset_meta``)
and ``tasks`` (the built kinds) in every data info, for the transforms;
and what every mmsquad dataset shares (:class:`MultiTaskDatasetMixin`)."""
import inspect
from typing import Dict, Optional

from mmengine.dataset import ConcatDataset

from mmsquad.registry import DATASETS
from mmsquad.tasks import BaseTask, build_task, build_tasks, task_configs
from mmsquad.tasks.presets import TasksCfg
from .image_checks import decode_in_stored_order, naming_the_file

#: The metainfo key of a dataset's tasks.
TASKS_KEY = 'tasks'


def dataset_tasks(dataset) -> Optional[Dict[str, dict]]:
    """``{name: kind config}`` of the tasks ``dataset`` labels, as it
    publishes them in its metainfo; None for a dataset that publishes none
    (another package's, not wrapped in a :class:`TaskDataset`)."""
    return (getattr(dataset, 'metainfo', None) or {}).get(TASKS_KEY)


def configured_tasks(dataset: dict) -> Dict[str, dict]:
    """The tasks a dataset config labels, as the built dataset would
    publish them (see :func:`dataset_tasks`), read from the config alone
    (no data needed): its ``tasks`` or its class's default, a
    ``TaskDataset``'s task, the union of a ``MultiTaskConcatDataset``'s.

    Raises:
        KeyError: For a dataset class that does not publish tasks.
    """
    kind = DATASETS.get(dataset['type'])
    if kind is None:
        raise KeyError(f'unknown dataset type {dataset["type"]!r}')
    if issubclass(kind, MultiTaskConcatDataset):
        tasks: Dict[str, dict] = {}
        for part in dataset['datasets']:
            tasks.update(configured_tasks(part))
        return tasks
    if 'task' in inspect.signature(kind.__init__).parameters:  # one task
        task = dataset['task']
        task = build_task(task) if isinstance(task, str) else build_task(
            task['name'], {k: v for k, v in task.items() if k != 'name'})
        return task_configs({task.name: task})
    parameters = inspect.signature(kind.__init__).parameters
    if 'tasks' not in parameters:
        raise KeyError(f'{kind.__name__} publishes no tasks')
    return task_configs(build_tasks(dataset.get(
        'tasks', parameters['tasks'].default)))


class MultiTaskDatasetMixin:
    """A dataset of given tasks: ``self.tasks``, published in the metainfo
    and handed to the transforms in every data info (``tasks``). Its
    pipeline decodes images in stored pixel order, as annotations are
    (:func:`~.image_checks.decode_in_stored_order`), and an error loading
    a sample names its image file.

    A subclass calls :meth:`init_tasks` before the base dataset's
    ``__init__``, with the keyword arguments it passes on.
    """

    tasks: Dict[str, BaseTask]

    def init_tasks(self, tasks: TasksCfg, kwargs: dict) -> dict:
        """Build ``tasks``; return ``kwargs`` with them in ``metainfo`` and
        the pipeline decoding in stored order."""
        self.tasks = build_tasks(tasks)
        metainfo = dict(kwargs.get('metainfo') or {})
        metainfo[TASKS_KEY] = task_configs(self.tasks)
        pipeline = decode_in_stored_order(kwargs.get('pipeline') or [],
                                          type(self).__name__)
        return dict(kwargs, metainfo=metainfo, pipeline=pipeline)

    def get_data_info(self, idx: int) -> dict:
        """The data info of ``idx`` with the task kinds (``tasks``)."""
        info = super().get_data_info(idx)
        info['tasks'] = self.tasks
        return info

    def prepare_data(self, idx: int):
        """The pipeline's output for ``idx`` (as mmengine's); a decoding
        error names the image file."""
        info = self.get_data_info(idx)
        with naming_the_file(info['img_path']):
            return self.pipeline(info)


@DATASETS.register_module()
class MultiTaskConcatDataset(ConcatDataset):
    """mmengine's ``ConcatDataset`` of datasets labelled for different
    tasks: its metainfo's ``tasks`` (and ``task_classes``) is the union of
    theirs (mmengine's publishes the first dataset's), and per-dataset
    metainfo that differs
    between the sources (``classes``, ``palette``, ...) is the first
    dataset's, as in mmengine's with those keys in ``ignore_keys``.

    Args:
        datasets: The datasets (or their configs).
        lazy_init: As mmengine's.

    Raises:
        ValueError: When two datasets give one task name different kinds.
    """

    def __init__(self, datasets, lazy_init: bool = False) -> None:
        built = [DATASETS.build(d) if isinstance(d, dict) else d
                 for d in datasets]
        keys = set().union(*(d.metainfo.keys() for d in built))
        super().__init__(built, lazy_init=lazy_init, ignore_keys=list(keys))
        union: Dict[str, dict] = {}
        classes: Dict[str, tuple] = {}
        for i, dataset in enumerate(built):
            classes.update(dataset.metainfo.get('task_classes') or {})
            for name, cfg in (dataset_tasks(dataset) or {}).items():
                if name in union and union[name] != cfg:
                    raise ValueError(
                        f'MultiTaskConcatDataset: dataset {i} '
                        f'({type(dataset).__name__}) labels task {name!r} '
                        f'as {cfg}, an earlier one as {union[name]}')
                union[name] = cfg
        self._metainfo[TASKS_KEY] = union
        self._metainfo['task_classes'] = classes
