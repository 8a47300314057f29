"""Every shipped config parses and builds its model and evaluator through
the registries."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import REPO
from mmsquad.apis.multitask_inferencer import list_configs, resolve_config
from mmsquad.datasets import configured_tasks
from mmsquad.engine.hooks.task_agreement_hook import (model_task_configs,
                                                      task_disagreements)
from mmsquad.evaluation import MultiTaskMetric
from mmsquad.registry import HOOKS, METRICS, MODELS, OPTIM_WRAPPERS
from mmsquad.tasks import BoxTask

CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in p)


def test_every_config_is_a_public_model_name():
    """The inferencer's names (``squad/demo``) cover exactly the configs,
    and each resolves to its file."""
    names = {path[len('configs/'):-len('.py')] for path in CONFIGS}
    assert set(list_configs()) == names
    for name in names:
        assert resolve_config(name) == osp.join(REPO, 'configs', name + '.py')


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path):
    """The model, its datasets and its metrics agree on tasks, as the
    checks every run makes before its first iteration see them
    (TaskAgreementHook, MultiTaskMetric against its dataset), and every
    task with a head is evaluated."""
    cfg = Config.fromfile(osp.join(REPO, path))
    assert cfg.default_scope == 'mmsquad'
    model = MODELS.build(cfg.model)
    model_tasks = model_task_configs(model)
    train_tasks = configured_tasks(cfg.train_dataloader.dataset)
    val_tasks = configured_tasks(cfg.val_dataloader.dataset)
    assert task_disagreements(model_tasks, train_tasks, training=True) == []
    assert task_disagreements(model_tasks, val_tasks, training=False) == []
    evaluators = cfg.val_evaluator if isinstance(cfg.val_evaluator, list) \
        else [cfg.val_evaluator]
    evaluated = set()
    for metric in evaluators:
        if 'ann_file' in metric:  # CocoMetric reads it when built
            metric = dict(metric, ann_file=None)
        metric = METRICS.build(metric)
        if isinstance(metric, MultiTaskMetric):
            metric.dataset_meta = dict(tasks=val_tasks)
            evaluated |= set(metric.tasks)
        else:  # mmdet's COCO metric scores the box task
            evaluated |= {n for n, t in model.tasks.items()
                          if isinstance(t, BoxTask)}
    assert evaluated == set(model.tasks)
    for hook in cfg.get('custom_hooks', []):
        HOOKS.build(hook)
    assert OPTIM_WRAPPERS.get(cfg.optim_wrapper.get('type',
                                                    'OptimWrapper'))

