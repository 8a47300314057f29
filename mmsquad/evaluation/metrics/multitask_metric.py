"""Dense multi-task evaluation with the literature's protocols."""
from typing import Collection, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmsquad.registry import METRICS
from mmsquad.tasks import build_tasks
from mmsquad.tasks.presets import TasksCfg


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


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Every task's metrics, as its task kind computes them (keys
    ``<task>/<metric>``, e.g. ``semseg/mIoU``, ``normals/mean``,
    ``edge/odsF``), plus ``multitask/delta_m`` against single-task
    references.

    Args:
        tasks: The tasks to evaluate: preset names or ``{name: kind
            config}`` (see :func:`~mmsquad.tasks.build_tasks`), as the model
            and the dataset define them.
        single_task_references: ``{metric key: single-task value}``; when
            given, ``multitask/delta_m`` is reported.
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Optional prefix for every key (keys already name the task).
    """

    default_prefix: Optional[str] = ''  # keys already name their task

    def __init__(self,
                 tasks: TasksCfg,
                 single_task_references: Optional[Dict[str, float]] = None,
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
        self.references = dict(single_task_references or {})

    @property
    def lower_is_better(self) -> List[str]:
        """The metric keys where lower is better."""
        return [f'{name}/{key}' for name, task in self.tasks.items()
                for key in task.lower_is_better]

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
            metrics['multitask/delta_m'] = delta_m(
                metrics, self.references, self.lower_is_better)
        return metrics
