"""Every shipped config parses and builds its model and evaluator through
the registries."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import REPO
from mmsquad.registry import HOOKS, METRICS, MODELS, OPTIM_WRAPPERS

CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in p)


def test_every_config_is_listed():
    assert 'configs/squad/pascal_ctx.py' in CONFIGS
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    assert cfg.default_scope == 'mmsquad'
    model = MODELS.build(cfg.model)
    heads = set(model.heads)
    evaluators = cfg.val_evaluator if isinstance(cfg.val_evaluator, list) \
        else [cfg.val_evaluator]
    if 'tasks' in cfg.train_dataloader.dataset:  # dense multi-task data
        assert set(cfg.train_dataloader.dataset.tasks) == heads
        assert set(cfg.val_evaluator.tasks) == heads
    else:  # underwater: detection + enhancement
        assert heads == {'det', 'enhance'}
        assert {m.type for m in evaluators} == {'CocoDetectionMetric',
                                               'EnhancementMetric'}
    for metric in evaluators:
        if 'ann_file' in metric:  # CocoMetric reads it when built
            metric = dict(metric, ann_file=None)
        METRICS.build(metric)
    for hook in cfg.get('custom_hooks', []):
        HOOKS.build(hook)
    assert OPTIM_WRAPPERS.get(cfg.optim_wrapper.get('type',
                                                    'OptimWrapper'))
