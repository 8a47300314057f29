"""Single-task references for ``multitask/delta_m``, from training runs."""
import glob
import os.path as osp
from typing import Dict, Sequence

from mmengine.config import Config

from mmsquad.datasets import configured_tasks
from mmsquad.registry import METRICS
from .run_logs import read_scalars

#: How a run's evaluation is chosen.
SELECTIONS = ('best', 'last')


def run_config(work_dir: str) -> Config:
    """The config that mmengine dumped into the work dir of a run.

    Raises:
        FileNotFoundError: When ``work_dir`` holds no ``*.py`` config, or
            several.
    """
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if len(configs) != 1:
        raise FileNotFoundError(
            f'{work_dir}: expected the one config a training run dumps '
            f'there (<name>.py), found {configs or "none"}')
    return Config.fromfile(configs[0])


def collect_single_task_references(work_dirs: Sequence[str],
                                   select: str = 'best',
                                   all_metrics: bool = False) -> dict:
    """The metrics of single-task runs, one task each, as
    :class:`~mmsquad.evaluation.MultiTaskMetric` takes them.

    Each run's evaluation is its best by the task's main metric (the one
    the multi-task literature compares it by, e.g. ``sal/mIoU``,
    ``normals/mean``, lower is better) or its last (``select='last'``).
    That metric is the task's reference, and so its term of delta_m.

    Args:
        work_dirs: Work dirs of single-task training runs.
        select: ``'best'`` or ``'last'``.
        all_metrics: Store all of the task's metrics from that evaluation
            (delta_m then averages over all of them).

    Returns:
        ``{'metrics': {key: value}, 'runs': {work dir: {'task', 'step',
        'selected'}}}``.

    Raises:
        ValueError: For a run that is not single-task, two runs of one
            task, or an unknown ``select``.
        KeyError: For a run that logged no evaluation of its task.
    """
    if select not in SELECTIONS:
        raise ValueError(f'select must be one of {SELECTIONS}, got '
                         f'{select!r}')
    metrics: Dict[str, float] = {}
    runs: Dict[str, dict] = {}
    for work_dir in work_dirs:
        cfg = run_config(work_dir)
        metric = METRICS.build(cfg.val_evaluator)
        metric.dataset_meta = dict(
            tasks=configured_tasks(cfg.val_dataloader.dataset))
        tasks = metric.tasks
        if len(tasks) != 1:
            raise ValueError(f'{work_dir}: a single-task run evaluates one '
                             f'task, this one evaluates {sorted(tasks)}')
        (name, task), = tasks.items()
        if any(run['task'] == name for run in runs.values()):
            raise ValueError(f'{work_dir}: a second run of task {name!r}')
        main = task.main_metric_key
        keys = [f'{name}/{key}' for key in task.metric_keys] \
            if all_metrics else [main]
        evaluations = [r for r in read_scalars(work_dir)
                       if all(key in r for key in keys)]
        if not evaluations:
            raise KeyError(f'{work_dir}: the run logged no evaluation of '
                           f'{keys}')
        chosen = evaluations[-1]
        if select == 'best':
            sign = 1 if metric.key_rules[main] == 'greater' else -1
            chosen = max(evaluations, key=lambda r: sign * r[main])
        metrics.update({key: chosen[key] for key in keys})
        runs[work_dir] = dict(task=name, step=chosen.get('step'),
                              selected=f'{select} by {main}')
    return dict(metrics=metrics, runs=runs)
