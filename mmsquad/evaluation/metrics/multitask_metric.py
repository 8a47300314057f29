"""Dense multi-task evaluation with the literature's protocols."""
import json
import os.path as osp
from typing import Collection, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric

from mmsquad.registry import METRICS
from mmsquad.tasks import build_tasks
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


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Every task's metrics, as its task kind computes them (keys
    ``<task>/<metric>``, e.g. ``semseg/mIoU``, ``normals/mean``,
    ``edge/odsF``), plus ``multitask/delta_m`` against single-task
    references.

    The first key is the one ``save_best='auto'`` selects checkpoints by:
    ``multitask/delta_m`` when there are references, otherwise the first
    task's first metric.

    Args:
        tasks: The tasks to evaluate: preset names or ``{name: kind
            config}`` (see :func:`~mmsquad.tasks.build_tasks`), as the model
            and the dataset define them.
        single_task_references: ``{metric key: single-task value}``, or
            the path of a JSON file with them under ``"metrics"`` (as
            ``tools/analysis_tools/collect_single_task.py`` writes it); when
            given, ``multitask/delta_m`` is reported.
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Optional prefix for every key (keys already name the task).
    """

    default_prefix: Optional[str] = ''  # keys already name their task

    def __init__(self,
                 tasks: TasksCfg,
                 single_task_references: Union[None, str,
                                               Dict[str, float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.tasks = build_tasks(tasks)
        without = [f'{name} ({type(task).__name__})'
                   for name, task in self.tasks.items()
                   if not task.metric_keys]
        if without:
            raise KeyError(f'MultiTaskMetric cannot evaluate {without}: their '
                           'kinds have no dense metric (evaluate boxes with '
                           'CocoDetectionMetric)')
        if isinstance(single_task_references, str):
            single_task_references = read_references(single_task_references)
        self.references = dict(single_task_references or {})
        unknown = sorted(set(self.references) - set(self.key_rules))
        if unknown:
            raise KeyError(f'single_task_references name {unknown}, which '
                           f'these tasks do not report; they report '
                           f'{sorted(self.key_rules)}')

    @property
    def lower_is_better(self) -> List[str]:
        """The metric keys where lower is better."""
        return [f'{name}/{key}' for name, task in self.tasks.items()
                for key in task.lower_is_better]

    @property
    def key_rules(self) -> Dict[str, str]:
        """``{key: 'greater' or 'less'}``: which way every key improves."""
        rules = {f'{name}/{key}': 'less' if key in task.lower_is_better
                 else 'greater'
                 for name, task in self.tasks.items()
                 for key in task.metric_keys}
        rules[DELTA_M_KEY] = 'greater'
        return rules

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Reduce a batch to compact per-task statistics."""
        batch: Dict[str, list] = {name: [] for name in self.tasks}
        for sample in data_samples:
            for name, task in self.tasks.items():
                gt = sample.get(task.target_key)
                if gt is None and not (task.scores_unlabelled and
                                       task.prediction_key in sample):
                    continue
                pred = task.field_array(sample[task.prediction_key])
                try:
                    batch[name].append(task.sample_stats(
                        pred, None if gt is None else task.field_array(gt)))
                except ValueError as error:
                    raise ValueError(
                        f'{sample.get("img_path")}: {error}') from error
        self.results.append(batch)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics: Dict[str, float] = {}
        for name, task in self.tasks.items():
            stats = [x for r in results for x in r[name]]
            if stats:
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
