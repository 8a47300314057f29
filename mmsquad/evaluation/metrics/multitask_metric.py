"""Dense multi-task evaluation with the literature's protocols."""
import json
import os.path as osp
from typing import Any, Collection, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric

from mmsquad.registry import METRICS
from mmsquad.tasks import BaseTask, DenseMapTask, build_task, build_tasks
from mmsquad.tasks.presets import TasksCfg

#: The key of the multi-task performance change.
DELTA_M_KEY = 'multitask/delta_m'


def delta_m(results: Dict[str, float], references: Dict[str, float],
            lower_is_better: Collection[str]) -> float:
    """Multi-task performance change (%) against single-task references:
    the mean over the reference keys of ``±(M - M_ref) / M_ref * 100``,
    negated for the keys in ``lower_is_better``."""
    terms = []
    for key, ref in references.items():
        sign = -1.0 if key in lower_is_better else 1.0
        terms.append(sign * (results[key] - ref) / ref * 100)
    return float(np.mean(terms))


def read_references(path: str) -> Dict[str, float]:
    """The single-task references stored in the JSON file ``path``.

    Raises:
        FileNotFoundError: When there is no such file.
        KeyError: When it has no ``"metrics"`` mapping.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'single_task_references: {path} does not exist; collect it '
            'from single-task runs with '
            'tools/analysis_tools/collect_single_task.py')
    with open(path) as f:
        stored = json.load(f)
    if not isinstance(stored.get('metrics'), dict):
        raise KeyError(f'single_task_references: {path} has no "metrics" '
                       'mapping of metric keys to single-task values')
    return stored['metrics']


def check_same_size(task: BaseTask, pred: np.ndarray,
                  gt: Optional[np.ndarray]) -> None:
    """Raise unless a dense task's prediction and target are maps of one
    size (a test pipeline that resizes the targets scores them at the
    network's size, while predictions are at the image's).

    Raises:
        ValueError: Naming both sizes and the fix.
    """
    if gt is None or not isinstance(task, DenseMapTask) or \
            pred.shape[-2:] == gt.shape[-2:]:
        return
    raise ValueError(
        f'the prediction of {task.name} is {pred.shape[-2]}x'
        f'{pred.shape[-1]} (the image\'s size), its target '
        f'{gt.shape[-2]}x{gt.shape[-1]}: the test pipeline resizes the '
        'targets; load them after the resize (LoadMultiTaskAnnotations '
        'after MultiTaskResize, as the shipped test pipelines do)')


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Every task's metrics, as its task kind computes them (keys
    ``<task>/<metric>``, e.g. ``semseg/mIoU``, ``normals/mean``,
    ``edge/odsF``), plus ``multitask/delta_m`` against single-task
    references.

    The tasks are the dataset's (its metainfo's ``tasks``, which mmengine
    hands over as ``dataset_meta`` before the first iteration): those of
    them with a dense metric (boxes are scored by
    :class:`CocoDetectionMetric`). Tasks given here are checked against the
    dataset's instead: a task the data does not label, or labels as another
    kind, is an error.

    The first key is the one ``save_best='auto'`` selects checkpoints by:
    ``multitask/delta_m`` when there are references, otherwise the first
    task's first metric. With references, every evaluated task needs one
    (of its main metric, as the literature compares tasks, or another of
    its keys): a task left out of delta_m is an error.

    Args:
        tasks: The tasks to evaluate: preset names or ``{name: kind
            config}`` (see :func:`~mmsquad.tasks.build_tasks`); by default
            the dataset's.
        single_task_references: ``{metric key: single-task value}``, or
            the path of a JSON file with them under ``"metrics"`` (as
            ``tools/analysis_tools/collect_single_task.py`` writes it); when
            given, ``multitask/delta_m`` is reported.
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Optional prefix for every key (keys already name the task).
    """

    default_prefix: Optional[str] = ''  # keys already name their task

    def __init__(self,
                 tasks: Optional[TasksCfg] = None,
                 single_task_references: Union[None, str,
                                               Dict[str, float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(single_task_references, str):
            single_task_references = read_references(single_task_references)
        self.references = dict(single_task_references or {})
        self.tasks: Optional[Dict[str, BaseTask]] = None
        if tasks is not None:
            self.tasks = build_tasks(tasks)
            without = [f'{name} ({type(task).__name__})'
                       for name, task in self.tasks.items()
                       if not task.metric_keys]
            if without:
                raise KeyError(
                    f'MultiTaskMetric cannot evaluate {without}: their kinds '
                    'have no dense metric (evaluate boxes with '
                    'CocoDetectionMetric)')
            self._check_references()

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        """Take the dataset's tasks, or check the given ones against them.

        Raises:
            ValueError: When the dataset publishes no tasks and none were
                given, or labels a given task as another kind or not at
                all.
        """
        self._dataset_meta = dataset_meta
        published = (dataset_meta or {}).get('tasks')
        if published is None:
            if self.tasks is None:
                raise ValueError(
                    'MultiTaskMetric: the dataset publishes no tasks '
                    "(metainfo['tasks']) and the metric was given none: "
                    'give it tasks=[...], or evaluate an mmsquad dataset '
                    '(or another package\'s wrapped in a TaskDataset)')
            return
        if self.tasks is None:
            built = {name: build_task(name, cfg)
                     for name, cfg in published.items()}
            self.tasks = {name: task for name, task in built.items()
                          if task.metric_keys}
        for name, task in self.tasks.items():
            if name not in published:
                raise ValueError(
                    f'MultiTaskMetric evaluates task {name!r}, which the '
                    f'dataset does not label; it labels '
                    f'{sorted(published)}')
            if published[name] != task.config:
                raise ValueError(
                    f'MultiTaskMetric evaluates task {name!r} as '
                    f'{task.config}, but the dataset labels it as '
                    f'{published[name]}')
        self._check_references()

    def _check_references(self) -> None:
        """Every reference names a reported key; every task has one.

        Raises:
            KeyError: Naming the keys.
        """
        if not self.references:
            return
        unknown = sorted(set(self.references) - set(self.key_rules))
        if unknown:
            raise KeyError(f'single_task_references name {unknown}, which '
                           f'these tasks do not report; they report '
                           f'{sorted(self.key_rules)}')
        missing = [task.main_metric_key for name, task in self.tasks.items()
                   if not any(key.startswith(f'{name}/')
                              for key in self.references)]
        if missing:
            raise KeyError(
                f'single_task_references have no value for {missing}: '
                'multitask/delta_m would leave those tasks out. Add them '
                '(tools/analysis_tools/collect_single_task.py) or give no '
                'references')

    @property
    def lower_is_better(self) -> List[str]:
        """The metric keys where lower is better."""
        return [f'{name}/{key}' for name, task in (self.tasks or {}).items()
                for key in task.lower_is_better]

    @property
    def key_rules(self) -> Dict[str, str]:
        """``{key: 'greater' or 'less'}``: which way every key improves."""
        rules = {f'{name}/{key}': 'less' if key in task.lower_is_better
                 else 'greater'
                 for name, task in (self.tasks or {}).items()
                 for key in task.metric_keys}
        rules[DELTA_M_KEY] = 'greater'
        return rules

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Reduce every sample to compact per-task statistics: one result
        a sample, as mmengine's evaluator expects (in distributed runs it
        keeps the first ``len(dataset)`` results, dropping the samples the
        sampler repeated to fill the last ranks)."""
        if self.tasks is None:
            raise ValueError('MultiTaskMetric has no tasks: give it tasks, '
                             'or set its dataset_meta (the evaluator does)')
        for sample in data_samples:
            stats: Dict[str, Any] = {}
            for name, task in self.tasks.items():
                gt = sample.get(task.target_key)
                if gt is None and not (task.scores_unlabelled and
                                       task.prediction_key in sample):
                    continue
                pred = task.field_array(sample[task.prediction_key])
                try:
                    gt = None if gt is None else task.field_array(gt)
                    check_same_size(task, pred, gt)
                    stats[name] = task.sample_stats(pred, gt)
                except ValueError as error:
                    raise ValueError(
                        f'{sample.get("img_path")}: {error}') from error
            self.results.append(stats)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Every task's metrics over the samples that carry its target.

        Raises:
            ValueError: When no sample carried a target of some task (an
                evaluation pipeline that loads none would otherwise end
                with that task's metrics missing and no word).
        """
        unscored = [name for name in self.tasks
                    if not any(name in r for r in results)]
        if unscored:
            raise ValueError(
                f'MultiTaskMetric: none of the {len(results)} evaluated '
                f'samples carries a target of {unscored}, which the '
                'dataset labels: its pipeline loads no annotations of '
                'them (LoadMultiTaskAnnotations, as the shipped test '
                'pipelines have it after the resize)')
        metrics: Dict[str, float] = {}
        for name, task in self.tasks.items():
            stats = [r[name] for r in results if name in r]
            metrics.update({f'{name}/{key}': value for key, value in
                            task.summarize(stats).items()})
        if self.references:
            missing = [k for k in self.references if k not in metrics]
            if missing:
                raise KeyError(f'single_task_references name {missing}, '
                               f'which this evaluation did not produce; '
                               f'available: {sorted(metrics)}')
            metrics = {DELTA_M_KEY: delta_m(
                metrics, self.references, self.lower_is_better), **metrics}
        return metrics
