"""Dense multi-task evaluation with the literature's protocols."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmsquad.registry import METRICS
from mmsquad.structures import check_tasks
from . import dense_stats as stats

LOWER_IS_BETTER = frozenset(('normals/mean', 'normals/median',
                             'normals/rmse', 'depth/rmse', 'depth/abs_rel'))
SUPPORTED = ('semseg', 'human_parts', 'sal', 'normals', 'depth', 'edge')


def delta_m(results: Dict[str, float],
            references: Dict[str, float]) -> float:
    """Multi-task performance change (%) against single-task references:
    the mean over the reference keys of ``±(M - M_ref) / M_ref * 100``,
    negated where lower is better."""
    terms = []
    for key, ref in references.items():
        sign = -1.0 if key in LOWER_IS_BETTER else 1.0
        terms.append(sign * (results[key] - ref) / ref * 100)
    return float(np.mean(terms))


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Every dense task's metrics, plus ``multitask/delta_m``.

    Keys: ``semseg/mIoU``, ``human_parts/mIoU`` (over images that carry
    parts), ``sal/maxF``, ``sal/mIoU``, ``normals/{mean,median,rmse,11.25,
    22.5,30}``, ``depth/{rmse,abs_rel}``, ``edge/odsF`` (BSDS boundary
    matching through pyEdgeEval).

    Args:
        tasks: Tasks to evaluate.
        num_classes: Classes of each label task, e.g.
            ``dict(semseg=21, human_parts=7)``.
        single_task_references: ``{metric key: single-task value}``; when
            given, ``multitask/delta_m`` is reported.
        edge_max_dist: Boundary matching tolerance as a fraction of the
            image diagonal (PASCAL 0.0075, NYUD 0.011).
        edge_thresholds: Number of evenly spaced edge thresholds.
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Optional prefix for every key (keys already name the task).
    """

    default_prefix: Optional[str] = ''  # keys already name their task

    def __init__(self,
                 tasks: Sequence[str],
                 num_classes: Optional[Dict[str, int]] = None,
                 single_task_references: Optional[Dict[str, float]] = None,
                 edge_max_dist: float = 0.0075,
                 edge_thresholds: int = 99,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.tasks = check_tasks(tasks)
        unsupported = [t for t in self.tasks if t not in SUPPORTED]
        if unsupported:
            raise KeyError(f'MultiTaskMetric cannot evaluate {unsupported}; '
                           f'it supports {list(SUPPORTED)}')
        self.num_classes = dict(num_classes or {})
        for task in ('semseg', 'human_parts'):
            if task in self.tasks and task not in self.num_classes:
                raise KeyError(f'num_classes needs an entry for {task!r}')
        self.references = dict(single_task_references or {})
        self.edge_max_dist = edge_max_dist
        self.edge_thresholds = np.linspace(1 / (edge_thresholds + 1),
                                           1 - 1 / (edge_thresholds + 1),
                                           edge_thresholds)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Reduce a batch to compact per-task statistics."""
        batch = {t: [] for t in self.tasks}
        angles = stats.AngleAccumulator()
        for sample in data_samples:
            for task in self.tasks:
                gt = sample.get(f'gt_{task}')
                if gt is None:
                    continue
                gt = gt['data'].cpu().numpy()
                pred = sample[f'pred_{task}']['data'].cpu().numpy()
                if task in ('semseg', 'human_parts'):
                    batch[task].append(stats.confusion(
                        pred[0], gt[0], self.num_classes[task]))
                elif task == 'sal':
                    batch[task].append(stats.saliency_stats(pred[0], gt[0]))
                elif task == 'normals':
                    angles.add(stats.normal_angles(pred, gt))
                elif task == 'depth':
                    batch[task].append(stats.depth_errors(pred[0], gt[0]))
                elif task == 'edge':
                    batch[task].append(stats.edge_counts(
                        pred[0], gt[0], self.edge_thresholds,
                        self.edge_max_dist))
        if 'normals' in self.tasks:
            batch['normals'] = [angles]
        self.results.append(batch)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics: Dict[str, float] = {}
        for task in self.tasks:
            items = [x for r in results for x in r[task]]
            if not items:
                continue
            if task in ('semseg', 'human_parts'):
                metrics[f'{task}/mIoU'] = stats.miou(np.sum(items, axis=0))
            elif task == 'sal':
                for k, v in stats.saliency_metrics(items).items():
                    metrics[f'sal/{k}'] = v
            elif task == 'normals':
                total = stats.AngleAccumulator()
                for acc in items:
                    total.merge(acc)
                for k, v in total.metrics().items():
                    metrics[f'normals/{k}'] = v
            elif task == 'depth':
                n, sq, rel = np.sum(items, axis=0)
                metrics['depth/rmse'] = float(np.sqrt(sq / max(n, 1)))
                metrics['depth/abs_rel'] = float(rel / max(n, 1))
            elif task == 'edge':
                metrics['edge/odsF'] = stats.edge_ods_f(
                    np.sum(items, axis=0), self.edge_thresholds)
        if self.references:
            missing = [k for k in self.references if k not in metrics]
            if missing:
                raise KeyError(f'single_task_references name {missing}, '
                               f'which this evaluation did not produce; '
                               f'available: {sorted(metrics)}')
            metrics['multitask/delta_m'] = delta_m(metrics, self.references)
        return metrics
