"""The best constant predictor of every task, as a floor for learning.

A model has learned a task only if it beats predicting one constant map,
the best one its task kind knows (the most frequent class, "everything
positive", the mean unit vector, the mean value), measured on the training
split.
"""
from typing import Dict, Mapping

import numpy as np
from mmengine.dataset import BaseDataset

from mmsquad.evaluation import MultiTaskMetric
from mmsquad.registry import DATASETS, METRICS
from mmsquad.tasks import BaseTask


def constant_predictors(dataset: BaseDataset, tasks: Mapping[str, BaseTask]
                        ) -> Dict[str, np.ndarray]:
    """Per task, the (C,) constant that a trivial predictor outputs (the
    task kind's :meth:`~mmsquad.tasks.BaseTask.best_constant` of the valid
    target values)."""
    values: Dict[str, list] = {name: [] for name in tasks}
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        for name, task in tasks.items():
            target = sample.get(task.target_key)
            if target is not None:
                values[name].append(task.target_values(target))
    constants = {}
    for name, task in tasks.items():
        if not values[name]:
            raise ValueError(f'no training sample carries {name!r}')
        constants[name] = task.best_constant(
            np.concatenate(values[name], axis=1))
    return constants


def evaluate_constants(dataset: BaseDataset, metric: MultiTaskMetric,
                       constants: Dict[str, np.ndarray]) -> Dict[str, float]:
    """Metrics of the constant predictors on ``dataset``, by ``metric``
    (fresh: its results so far count too)."""
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        record = {}
        for name, constant in constants.items():
            task = metric.tasks[name]
            gt = sample.get(task.target_key)
            if gt is None:
                continue
            record[task.target_key] = gt.to_dict()
            record[task.prediction_key] = task.constant_prediction(
                constant, gt).to_dict()
        metric.process({}, [record])
    return metric.compute_metrics(metric.results)


def constant_baseline(cfg) -> Dict[str, float]:
    """Validation metrics of the constant predictors of a training config.

    The constants come from the training split read through the validation
    pipeline (no augmentation); the metrics from ``cfg.val_evaluator``.
    """
    train = dict(cfg.train_dataloader.dataset,
                 pipeline=cfg.val_dataloader.dataset.pipeline)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    metric = METRICS.build(cfg.val_evaluator)
    metric.dataset_meta = val.metainfo
    constants = constant_predictors(DATASETS.build(train), metric.tasks)
    return evaluate_constants(val, metric, constants)
