"""The best constant predictor of every task, as a floor for learning.

A model has learned a task only if it beats predicting one constant map:
the most frequent class (label tasks), "everything positive" (binary
tasks; every other constant scores no better under maxF and odsF), the mean
unit normal, or the mean depth, all measured on the training split.
"""
from typing import Dict, Sequence

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from mmsquad.registry import DATASETS, METRICS
from mmsquad.structures import get_dense_task


def constant_predictors(dataset: BaseDataset,
                        tasks: Sequence[str]) -> Dict[str, np.ndarray]:
    """Per task, the (C,) constant that a trivial predictor outputs."""
    stats: Dict[str, list] = {t: [] for t in tasks}
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        for task in tasks:
            if sample.has_target(task):
                stats[task].append(sample.get_target(task).data.numpy())
    constants = {}
    for task in tasks:
        info = get_dense_task(task)
        if info.kind == 'binary':
            constants[task] = np.ones(1)
            continue
        if not stats[task]:
            raise ValueError(f'no training sample carries {task!r}')
        values = np.concatenate(
            [v.reshape(v.shape[0], -1) for v in stats[task]], axis=1)
        valid = np.all(values != info.ignore_value, axis=0)
        values = values[:, valid]
        if info.kind == 'label':
            constants[task] = np.array(
                [np.bincount(values[0].astype(np.int64)).argmax()])
        elif info.kind == 'vector':
            mean = values.mean(axis=1)
            constants[task] = mean / np.linalg.norm(mean)
        else:
            constants[task] = values.mean(axis=1)
    return constants


def evaluate_constants(dataset: BaseDataset, evaluator_cfg: dict,
                       constants: Dict[str, np.ndarray]) -> Dict[str, float]:
    """Metrics of the constant predictors on ``dataset``."""
    metric = METRICS.build(evaluator_cfg)
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        record = {}
        for task, constant in constants.items():
            if not sample.has_target(task):
                continue
            gt = sample.get_target(task).data
            dtype = (torch.int64 if get_dense_task(task).kind == 'label'
                     else torch.float32)
            pred = torch.as_tensor(constant, dtype=dtype)
            record[f'gt_{task}'] = dict(data=gt)
            record[f'pred_{task}'] = dict(
                data=pred.reshape(-1, 1, 1).expand(-1, *gt.shape[-2:]))
        metric.process({}, [record])
    return metric.compute_metrics(metric.results)


def constant_baseline(cfg) -> Dict[str, float]:
    """Validation metrics of the constant predictors of a training config.

    The constants come from the training split read through the validation
    pipeline (no augmentation); the metrics from ``cfg.val_evaluator``.
    """
    train = dict(cfg.train_dataloader.dataset,
                 pipeline=cfg.val_dataloader.dataset.pipeline)
    constants = constant_predictors(DATASETS.build(train),
                                    cfg.val_evaluator.tasks)
    return evaluate_constants(DATASETS.build(cfg.val_dataloader.dataset),
                              cfg.val_evaluator, constants)
