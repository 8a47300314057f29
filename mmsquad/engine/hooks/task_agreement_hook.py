"""Stop a run before its first iteration when the model's tasks and its
data's disagree, or its samples lack what a head needs."""
import logging
from typing import Dict, List, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmsquad.datasets import dataset_tasks
from mmsquad.models.utils import inner_model
from mmsquad.registry import HOOKS


def task_disagreements(model_tasks: Dict[str, dict],
                       data_tasks: Dict[str, dict],
                       training: bool) -> list:
    """Why a model with ``model_tasks`` cannot train (``training``) or be
    evaluated on data labelled for ``data_tasks`` (``{name: kind config}``
    both): tasks the data labels as another kind, or that the model lacks;
    in training, model tasks the data never labels."""
    problems = []
    for name in sorted(set(model_tasks) & set(data_tasks)):
        if model_tasks[name] != data_tasks[name]:
            problems.append(f'task {name!r} is {model_tasks[name]} in the '
                            f'model but {data_tasks[name]} in the data')
    unknown = sorted(set(data_tasks) - set(model_tasks))
    if unknown:
        problems.append(f'the data labels {unknown}, which the model has '
                        f'no head for (its tasks: {sorted(model_tasks)})')
    unlabelled = sorted(set(model_tasks) - set(data_tasks))
    if training and unlabelled:
        problems.append(f'the model has tasks {unlabelled} that the data '
                        f'never labels (it labels {sorted(data_tasks)}): '
                        'they would never train')
    return problems


@HOOKS.register_module()
class TaskAgreementHook(Hook):
    """Before the first training, validation or test iteration: the tasks
    of a multi-task model (its heads' and auxiliary tasks, with their
    kinds) agree with the tasks its data publishes (``metainfo['tasks']``,
    see :func:`~mmsquad.datasets.dataset_tasks`).

    The tasks are defined in the dataset, the model and (optionally) the
    metric, each from the config; this hook and
    :class:`~mmsquad.evaluation.MultiTaskMetric` (against its dataset)
    make a disagreement an error before anything runs, whatever the
    config. A dataset that publishes no tasks (another package's, not in a
    ``TaskDataset``) cannot be checked: that is logged. Before training,
    the first sample labelled for each task must also carry what its head
    needs besides the target (``needed_fields``: HTC's semantic maps), and
    the first sample of the validation data (checked then, not after the
    first epoch) and of the test data what a head needs to predict
    (``needed_fields_to_predict``: Fast R-CNN's proposals). In
    ``configs/_base_/default_runtime.py``'s ``default_hooks``;
    ``tools/train.py`` and ``tools/test.py`` add it where a config has
    none.

    Raises:
        ValueError: In ``before_train``, ``before_val`` and
            ``before_test``, naming every disagreement.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self.checked = set()

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader, 'train_dataloader',
                    training=True)
        if runner.val_loop is not None:
            self.before_val(runner)

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader, 'val_dataloader',
                    training=False)

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader, 'test_dataloader',
                    training=False)

    def _check(self, runner, loader, what: str, training: bool) -> None:
        if what in self.checked:
            return
        self.checked.add(what)
        model_tasks = model_task_configs(runner.model)
        if model_tasks is None:
            return
        data_tasks = dataset_tasks(loader.dataset)
        if data_tasks is None:
            print_log(f'{what}: {type(loader.dataset).__name__} publishes '
                      "no tasks (metainfo['tasks']): its labels cannot be "
                      "checked against the model's tasks",
                      logger='current', level=logging.WARNING)
            return
        problems = task_disagreements(model_tasks, data_tasks, training)
        if problems:
            raise ValueError(f'{what}: the model and its data disagree on '
                             'tasks: ' + '; '.join(problems))
        missing = missing_fields(runner.model, loader.dataset) if training \
            else missing_fields_to_predict(runner.model, loader.dataset)
        if missing:
            raise ValueError(f'{what}: ' + '; '.join(missing))


def missing_fields(model, dataset, look_at: int = 8) -> List[str]:
    """What the first sample labelled for each task (among the first
    ``look_at``) lacks of the fields its head needs
    (:attr:`~mmsquad.models.heads.BaseTaskHead.needed_fields`), each
    named with the sample, the field and why it is needed."""
    model = inner_model(model)
    needs = {name: (head.task, head.needed_fields)
             for name, head in getattr(model, 'heads', {}).items()
             if getattr(head, 'needed_fields', None)}
    problems = []
    for index in range(min(look_at, len(dataset)) if needs else 0):
        sample = dataset[index]['data_samples']
        for name, (task, fields) in list(needs.items()):
            if not task.has_target(sample):
                continue
            del needs[name]
            problems += [
                f'{sample.metainfo.get("img_path", index)} (task {name!r}) '
                f'carries no {field}: {why}'
                for field, why in fields.items() if field not in sample]
    return problems


def missing_fields_to_predict(model, dataset) -> List[str]:
    """What the first sample of ``dataset`` lacks of the fields the heads
    need to predict on it
    (:attr:`~mmsquad.models.heads.BaseTaskHead.needed_fields_to_predict`),
    each named with the sample, the field and why it is needed."""
    model = inner_model(model)
    needs = {name: head.needed_fields_to_predict
             for name, head in getattr(model, 'heads', {}).items()
             if getattr(head, 'needed_fields_to_predict', None)}
    if not needs or not len(dataset):
        return []
    sample = dataset[0]['data_samples']
    return [f'{sample.metainfo.get("img_path", 0)} (task {name!r}) carries '
            f'no {field}: {why}' for name, fields in needs.items()
            for field, why in fields.items() if field not in sample]


def model_task_configs(model) -> Optional[Dict[str, dict]]:
    """``{name: kind config}`` of a multi-task model's tasks (heads' and
    auxiliary); None for another model."""
    model = inner_model(model)
    tasks = getattr(model, 'tasks', None)
    if not isinstance(tasks, dict):
        return None
    tasks = dict(tasks, **getattr(model, 'auxiliary_tasks', {}))
    return {name: task.config for name, task in tasks.items()}
