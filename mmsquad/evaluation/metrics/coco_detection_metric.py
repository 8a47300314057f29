"""COCO detection metrics that still report when nothing was detected, and
that score a val set of several tasks' sources."""
from typing import Dict, Optional, Sequence

from mmdet.evaluation import CocoMetric
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmsquad.registry import METRICS

#: The result of a sample without boxes under ``only_labelled`` (a string:
#: results travel between processes pickled, and mmengine drops ``None``).
UNLABELLED = 'unlabelled'

#: The keys mmdet's CocoMetric reports per metric when not told otherwise.
DEFAULT_METRIC_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


@METRICS.register_module()
class CocoDetectionMetric(CocoMetric):
    """mmdet's ``CocoMetric`` (same arguments, same keys) that reports zero
    precision when the model detected nothing.

    mmdet's metric then logs that the results are empty and returns no keys
    at all, so ``save_best='coco/bbox_mAP'`` stops training with a KeyError
    in mmengine's CheckpointHook, as an untrained detector whose scores are
    all below ``score_thr`` does at its first validation. With no detection
    every average precision and recall is 0.

    Args:
        only_labelled: Score only the samples that carry boxes
            (``gt_instances``), for a val set concatenated from several
            tasks' sources (``configs/multi_source/``): the other sources'
            samples are not images of the annotation file. The boxes'
            pipeline must then load them (mmdet's ``LoadAnnotations``).
        *args, **kwargs: mmdet's ``CocoMetric`` arguments.

    Raises:
        ValueError: When given the metainfo of a dataset whose class names
            (``dataset_meta['classes']``) are not categories of
            ``ann_file``: the predicted labels would be scored as other
            categories, or not at all.
    """

    def __init__(self, *args, only_labelled: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.only_labelled = only_labelled

    @BaseMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        """The evaluated dataset's metainfo, its classes checked against
        the annotation file's categories."""
        BaseMetric.dataset_meta.fset(self, dataset_meta)
        classes: Sequence[str] = (dataset_meta or {}).get('classes', ())
        if self._coco_api is None or not classes:
            return
        categories = {c['name'] for c in self._coco_api.cats.values()}
        unknown = [name for name in classes if name not in categories]
        if unknown:
            raise ValueError(
                f'CocoDetectionMetric: the dataset\'s classes {unknown} are '
                f'not categories of its ann_file, which has '
                f'{sorted(categories)}. Name the annotation file\'s classes '
                "in the dataset's metainfo=dict(classes=...); for a "
                'ConcatDataset, whose metainfo is its first dataset\'s, '
                'put the COCO-format set first.')

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """mmdet's processing, of the samples with boxes when
        ``only_labelled``; the others leave a placeholder, so that there is
        one result a sample, as mmengine's evaluator expects (in
        distributed runs it keeps the first ``len(dataset)`` results,
        dropping the samples the sampler repeated to fill the last
        ranks)."""
        for sample in data_samples:
            if self.only_labelled and 'gt_instances' not in sample:
                self.results.append(UNLABELLED)
            else:
                super().process(data_batch, [sample])

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """mmdet's metrics, with zeros for the box or mask metrics it could
        not compute."""
        metrics = super().compute_metrics(
            [result for result in results if result != UNLABELLED])
        for metric in self.metrics:
            if metric not in ('bbox', 'segm') or any(
                    key.startswith(f'{metric}_') for key in metrics):
                continue
            print_log(f'no {metric} detections: reporting zero {metric} '
                      'precision', logger='current')
            metrics.update({f'{metric}_{item}': 0.0 for item in
                            self.metric_items or DEFAULT_METRIC_ITEMS})
        return metrics
