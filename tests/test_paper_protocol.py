"""The paper configs hold the published values; no config mixes the two
protocols; the schedule, AMP fallback, single-task references and the
checkpoint choice by delta_m work as configured."""
import glob
import json
import os
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from conftest import REPO
from test_tools import tool
from mmsquad.evaluation import MultiTaskMetric
from toolkit.single_task_references import \
    collect_single_task_references
from mmsquad.registry import HOOKS, METRICS, MODELS, PARAM_SCHEDULERS
from toolkit.single_task import single_task_config
from toolkit.tool_setup import fall_back_from_cuda_amp


def _config(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'squad', name))


def _steps(pipeline):
    return {step['type']: step for step in pipeline}


def _published_schedule(cfg):
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4,
                                               weight_decay=1e-4)
    assert cfg.param_scheduler == [dict(type='PolyLR', eta_min=0.0,
                                        power=0.99, begin=0, end=301,
                                        by_epoch=True)]
    assert cfg.train_cfg.max_epochs == 300 and cfg.train_cfg.val_interval == 1
    assert cfg.train_dataloader.batch_size == 6
    assert cfg.default_hooks.checkpoint.save_best == 'auto'


def _published_heads(cfg):
    model = MODELS.build(cfg.model)
    for head in model.heads.values():
        assert type(head.dropout) is torch.nn.Dropout  # not Dropout2d
        assert head.dropout.p == 0.5
        assert head.init_cfg is None  # PyTorch's default initialisation
    assert model.backbone.init_cfg[0] == dict(type='Kaiming', layer='Conv2d',
                                              mode='fan_out')


@pytest.mark.parametrize('name', ['pascal_ctx.py', 'pascal_ctx_tiny.py'])
def test_pascal_paper_configs_hold_the_published_values(name):
    cfg = _config(name)
    _published_schedule(cfg)
    _published_heads(cfg)
    assert cfg.model.task_weights == dict(semseg=1.0, human_parts=2.0,
                                          sal=5.0, normals=10.0)
    train = cfg.train_dataloader.dataset.pipeline
    assert [s['type'] for s in train] == [
        'LoadImageFromFile', 'LoadMultiTaskAnnotations',
        'MultiTaskRandomFlip', 'MultiTaskRandomScaleRotate',
        'MultiTaskResize', 'PackMultiTaskInputs']
    steps = _steps(train)
    assert steps['MultiTaskRandomFlip']['prob'] == 0.5
    assert steps['MultiTaskRandomScaleRotate'] == dict(
        type='MultiTaskRandomScaleRotate', angle_range=(-20, 20),
        scale_range=(0.75, 1.25), interpolation='bicubic',
        border='background')
    stretch = dict(type='MultiTaskResize', scale=(512, 512),
                   keep_ratio=False, interpolation='bicubic')
    assert steps['MultiTaskResize'] == stretch
    assert _steps(cfg.test_dataloader.dataset.pipeline)[
        'MultiTaskResize'] == stretch


@pytest.mark.parametrize('name', ['nyud.py', 'nyud_tiny.py'])
def test_nyud_paper_configs_hold_the_published_values(name):
    cfg = _config(name)
    _published_schedule(cfg)
    _published_heads(cfg)
    assert cfg.model.task_weights == dict(semseg=1.0, depth=1.0)
    train = cfg.train_dataloader.dataset.pipeline
    assert [s['type'] for s in train] == [
        'LoadImageFromFile', 'LoadMultiTaskAnnotations',
        'MultiTaskRandomFlip', 'MultiTaskRandomScaleRotate',
        'PackMultiTaskInputs']
    zoom = _steps(train)['MultiTaskRandomScaleRotate']
    assert zoom['angle_range'] == (0, 0)
    assert zoom['scale_choices'] == (1.0, 1.2, 1.5)
    assert [s['type'] for s in cfg.test_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'LoadMultiTaskAnnotations',
        'PackMultiTaskInputs']


#: mmsquad's dense-task configs; configs/mmseg_data/ and multi_source/
#: train on mmseg's and mmdet's own datasets with their own pipelines
#: (their protocols, not one of these).
OTHER_PROTOCOLS = ('_base_', 'underwater', 'mmseg_data', 'multi_source')
DENSE_CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True)
    if not any(part in p for part in OTHER_PROTOCOLS))


@pytest.mark.parametrize('path', DENSE_CONFIGS,
                         ids=[osp.relpath(p, REPO) for p in DENSE_CONFIGS])
def test_no_config_mixes_the_two_protocols(path):
    """A config that stretches at test time trains on the same stretch and
    never crops; one that tests at the original size trains on crops and
    never stretches."""
    cfg = Config.fromfile(path)
    train = _steps(cfg.train_dataloader.dataset.pipeline)
    test = _steps(cfg.test_dataloader.dataset.pipeline)
    if 'MultiTaskResize' in test:
        assert 'MultiTaskRandomCrop' not in train
        assert train['MultiTaskResize'] == test['MultiTaskResize']
        assert test['MultiTaskResize']['keep_ratio'] is False
    else:
        assert 'MultiTaskResize' not in train
        assert 'MultiTaskRandomCrop' in train or \
            'MultiTaskRandomScaleRotate' in train


def test_crop_protocol_configs():
    for name, crop in (('pascal_ctx_crop.py', (512, 512)),
                       ('nyud_crop.py', (448, 576))):
        cfg = _config(name)
        _published_schedule(cfg)
        steps = _steps(cfg.train_dataloader.dataset.pipeline)
        assert steps['MultiTaskRandomCrop']['crop_size'] == crop
        assert 'mmseg.PhotoMetricDistortion' in steps
        assert 'MultiTaskResize' not in _steps(
            cfg.test_dataloader.dataset.pipeline)


def test_poly_schedule_sets_the_published_rate_once_per_epoch():
    cfg = _config('pascal_ctx.py')
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = OptimWrapper(torch.optim.Adam([param], lr=1e-4))
    scheduler = PARAM_SCHEDULERS.build(cfg.param_scheduler[0],
                                       default_args=dict(optimizer=optimizer))
    assert scheduler.by_epoch
    for epoch in range(300):
        expected = 1e-4 * (1 - epoch / 300)**0.99
        assert optimizer.get_lr()['lr'][0] == pytest.approx(expected,
                                                            rel=1e-9)
        scheduler.step()


def test_cuda_amp_falls_back_to_float32_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    for wrapper, fallback in (
            (dict(type='AmpOptimWrapper'), dict(type='OptimWrapper')),
            (dict(type='GradSurgeryOptimWrapper', amp=True),
             dict(type='GradSurgeryOptimWrapper', amp=False))):
        cfg = Config(dict(optim_wrapper=dict(wrapper, loss_scale='dynamic')))
        message = fall_back_from_cuda_amp(cfg)
        assert cfg.optim_wrapper == fallback
        assert 'training in float32' in message
        assert fall_back_from_cuda_amp(cfg) is None  # float32 stays
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cuda = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper')))
    assert fall_back_from_cuda_amp(cuda) is None
    assert cuda.optim_wrapper.type == 'AmpOptimWrapper'


def _single_task_run(root, task, evaluations, tasks=None):
    """A work dir as a training run leaves it: its dumped config and its
    logged validations."""
    work_dir = osp.join(root, task)
    os.makedirs(osp.join(work_dir, '20261201_000000', 'vis_data'))
    cfg = single_task_config(_config('pascal_ctx.py'), task)
    cfg.dump(osp.join(work_dir, f'single_task_{task}.py'))
    with open(osp.join(work_dir, '20261201_000000', 'vis_data',
                       'scalars.json'), 'w') as f:
        for step, values in enumerate(evaluations, 1):
            f.write(json.dumps(dict(lr=1e-4, loss=1.0, step=step)) + '\n')
            f.write(json.dumps(dict(values, step=step)) + '\n')
    return work_dir


def test_references_collect_the_best_evaluation_by_each_tasks_rule(tmp_path):
    semseg = _single_task_run(str(tmp_path), 'semseg', [
        {'semseg/mIoU': 40.0}, {'semseg/mIoU': 55.0}, {'semseg/mIoU': 50.0}])
    normals = _single_task_run(str(tmp_path), 'normals', [
        {f'normals/{k}': v for k, v in zip(
            ('mean', 'median', 'rmse', '11.25', '22.5', '30'),
            (m, m - 2, m + 3, 30.0, 60.0, 70.0))}
        for m in (20.0, 15.0, 17.0)])
    best = collect_single_task_references([semseg, normals])
    # The main metrics only (the terms of the literature's delta_m).
    assert best['metrics'] == {'semseg/mIoU': 55.0, 'normals/mean': 15.0}
    assert best['runs'][normals] == dict(
        task='normals', step=2, selected='best by normals/mean')
    every = collect_single_task_references([normals], all_metrics=True)
    assert every['metrics']['normals/median'] == 13.0  # the same evaluation
    last = collect_single_task_references([semseg, normals], select='last')
    assert last['metrics'] == {'semseg/mIoU': 50.0, 'normals/mean': 17.0}
    with pytest.raises(ValueError, match='second run of task'):
        collect_single_task_references([semseg, semseg])


def test_collect_single_task_tool_writes_what_the_metric_reads(tmp_path):
    runs = [_single_task_run(str(tmp_path), 'sal', [
        {'sal/maxF': 70.0, 'sal/mIoU': 50.0}]),
        _single_task_run(str(tmp_path), 'semseg', [{'semseg/mIoU': 40.0}])]
    out = str(tmp_path / 'refs.json')
    result = tool('analysis_tools/collect_single_task.py', *runs, '--out',
                  out)
    assert result.returncode == 0, result.stderr[-2000:]
    metric = MultiTaskMetric(tasks=['semseg', 'sal'],
                             single_task_references=out)
    # Saliency's main metric is its mIoU, as the literature's delta_m.
    assert metric.references == {'sal/mIoU': 50.0, 'semseg/mIoU': 40.0}


def test_multitask_metric_reads_references_and_leads_with_delta_m(tmp_path):
    path = str(tmp_path / 'refs.json')
    with open(path, 'w') as f:
        json.dump(dict(metrics={'sal/maxF': 80.0, 'normals/mean': 20.0}), f)
    metric = METRICS.build(dict(type='MultiTaskMetric',
                                tasks=['sal', 'normals'],
                                single_task_references=path))
    rng = np.random.default_rng(0)
    gt_sal = (rng.random((1, 6, 6)) > 0.5).astype(np.int64)
    normals = rng.normal(size=(3, 6, 6)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=0)
    sample = dict(gt_sal=dict(data=torch.from_numpy(gt_sal)),
                  pred_sal=dict(data=torch.from_numpy(gt_sal).float()),
                  gt_normals=dict(data=torch.from_numpy(normals)),
                  pred_normals=dict(data=torch.from_numpy(normals)))
    metric.process({}, [sample])
    results = metric.evaluate(1)
    assert list(results)[0] == 'multitask/delta_m'
    # maxF 100 (+25%), normals mean ~0 degrees (+100%).
    assert results['multitask/delta_m'] == pytest.approx(
        (25.0 + (20.0 - results['normals/mean']) / 20.0 * 100) / 2)
    with pytest.raises(KeyError, match=r"\['sal/maxf'\], which these"):
        MultiTaskMetric(tasks=['sal'],
                        single_task_references={'sal/maxf': 80.0})
    with pytest.raises(FileNotFoundError, match='collect_single_task'):
        MultiTaskMetric(tasks=['sal'], single_task_references=str(
            tmp_path / 'missing.json'))


@pytest.mark.parametrize('key,rule', [('multitask/delta_m', 'greater'),
                                      ('normals/mean', 'less'),
                                      ('semseg/mIoU', 'greater')])
def test_best_checkpoint_rule_comes_from_the_metric(key, rule):
    """``save_best='auto'`` picks the metric's first key; its rule comes
    from the metric (mmengine alone cannot tell for these keys)."""
    hook = HOOKS.build(dict(type='SafeCheckpointHook', save_best='auto'))
    metric = MultiTaskMetric(tasks=['semseg', 'normals'])
    runner = SimpleNamespace(val_loop=SimpleNamespace(
        evaluator=SimpleNamespace(metrics=[metric])))
    hook._learn_metric_rules(runner)
    hook._init_rule([None], [key])
    assert hook.rules == [rule]
