"""Every component mmsquad registers, built from its registry with tiny
inputs and checked against the contract it advertises (timm-style: a newly
registered component is picked up here without editing a list).

Components that need arguments beyond their defaults take them from
``REQUIRED_ARGS``; a component missing there fails with a message saying
so."""
import inspect
import json
import os.path as osp
from typing import Dict, List

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from mmengine.structures import InstanceData
from torch.nn.modules.batchnorm import _BatchNorm

import mmdet
import mmseg
from mmsquad.datasets.underwater_mt import DUO_CLASSES
from mmsquad.models.heads import BaseTaskHead
from mmsquad.registry import (HOOKS, METRICS, MODELS, OPTIM_WRAPPERS,
                              TASKS)
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import (TASK_PRESETS, BaseTask, BoxTask, DenseMapTask,
                           build_task)
from mmsquad.utils.precision import cpu_supports_bfloat16

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
MMSEG_CONFIGS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')


def registered(registry, package: str) -> List[str]:
    """Names of the components of ``registry`` defined under ``package``."""
    return sorted(name for name, cls in registry.module_dict.items()
                  if cls.__module__.startswith(package))


def _retina_head() -> dict:
    """mmdet's bundled RetinaNet head and FPN, shrunk to the tiny
    SquadNet's three levels (strides 2, 4, 8)."""
    model = Config.fromfile(osp.join(
        MMDET_CONFIGS, '_base_', 'models', 'retinanet_r50_fpn.py')).model
    head = dict(model.bbox_head, _scope_='mmdet', num_classes=2,
                in_channels=16, feat_channels=16, stacked_convs=1,
                train_cfg=model.train_cfg, test_cfg=model.test_cfg)
    head['anchor_generator'].update(strides=[2, 4, 8], scales_per_octave=1,
                                    ratios=[1.0])
    neck = dict(model.neck, _scope_='mmdet', out_channels=16, num_outs=3,
                start_level=0, add_extra_convs=False)
    neck.pop('in_channels')  # the model fills it in
    return dict(head=head, neck=neck)


def _faster_rcnn(task: BaseTask) -> dict:
    """mmdet's bundled Faster R-CNN, shrunk, its strides from the tiny
    SquadNet's features."""
    model = Config.fromfile(osp.join(
        MMDET_CONFIGS, '_base_', 'models', 'faster-rcnn_r50_fpn.py')).model
    model.neck.out_channels = 16
    model.rpn_head.update(in_channels=16, feat_channels=16)
    model.roi_head.bbox_roi_extractor.out_channels = 16
    model.roi_head.bbox_head.update(in_channels=16, fc_out_channels=32)
    return dict(detector=model, num_classes=2, strides_from_features=True)


def _fcn_head(task: BaseTask) -> dict:
    """mmseg's bundled FCN decode head, shrunk."""
    head = Config.fromfile(osp.join(
        MMSEG_CONFIGS, '_base_', 'models', 'fcn_r50-d8.py')).model.decode_head
    head = dict(head, _scope_='mmseg', channels=8, num_convs=1,
                in_index=-1, num_classes=task.out_channels,
                norm_cfg=dict(type='BN'))
    head.pop('in_channels')  # the model fills it in
    return dict(head=head)


#: Arguments of the components that have required ones, by name.
REQUIRED_ARGS = dict(
    DenseHeadAdapter=lambda task: _retina_head(),
    DetectorAdapter=_faster_rcnn,
    DecodeHeadAdapter=_fcn_head,
    LabelMapTask=dict(num_classes=3),
    GradSurgeryOptimWrapper=dict(aggregator=dict(type='PCGrad')),
)

#: One task of every kind: the presets (the label task with 3 classes,
#: for speed) and the kinds without a preset.
TASK_EXAMPLES: Dict[str, BaseTask] = {
    name: build_task(name, dict(cfg, num_classes=3) if
                     cfg['type'] == 'LabelMapTask' else cfg)
    for name, cfg in TASK_PRESETS.items()
    if name not in ('human_parts', )
}
TASK_EXAMPLES['scene'] = build_task(
    'scene', dict(type='ImageLabelTask', num_classes=3))


def _required(name: str, signature: inspect.Signature, skip=()) -> None:
    missing = [p for p, v in signature.parameters.items()
               if v.default is inspect.Parameter.empty and p not in skip
               and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
    assert not missing or name in REQUIRED_ARGS, (
        f'{name} needs {missing}: add an example to REQUIRED_ARGS')


# Task kinds --------------------------------------------------------------

@pytest.mark.parametrize('kind', registered(TASKS, 'mmsquad.'))
def test_every_task_kind_has_an_example(kind):
    """Every kind is tested below through an example task."""
    assert kind in {type(t).__name__ for t in TASK_EXAMPLES.values()}, (
        f'{kind} has no example: add one to TASK_EXAMPLES')


@pytest.mark.parametrize('name', sorted(TASK_EXAMPLES))
def test_dense_task_kind_round_trip(name):
    """Pack, identity warp, double flip, activation, metric keys, picture
    and output of every dense kind."""
    task = TASK_EXAMPLES[name]
    if not isinstance(task, DenseMapTask):
        pytest.skip('not a dense map')
    rng = np.random.default_rng(0)
    h, w, c = 16, 18, task.channels
    if task.target_dtype == torch.int64:
        array = rng.integers(0, max(task.out_channels, 2), (h, w))
        array = array.astype(np.uint8)
    else:
        array = rng.uniform(0.1, 1, (h, w, c) if c > 1 else (h, w))
        if name == 'normals':
            array /= np.linalg.norm(array, axis=-1, keepdims=True)
        array = array.astype(np.float32)
    array.reshape(h, w, -1)[0, 0] = task.ignore_index  # one ignored pixel
    identity = task.warp(array.copy(), lambda a, interp, fill: a)
    np.testing.assert_allclose(identity, array, rtol=1e-5)
    twice = task.flip_values(task.flip_values(array.copy()))
    np.testing.assert_allclose(twice, array, rtol=1e-6)
    target = task.pack(array)
    assert target.data.shape == (c, h, w)
    assert target.data.dtype == task.target_dtype
    assert target.ignore_index == task.ignore_index
    logits = torch.randn(2, task.out_channels, h, w)
    outputs = task.activate(logits)
    assert outputs.shape == logits.shape
    prediction = task.finalize(outputs[0])
    if task.target_dtype == torch.int64 and task.out_channels > 1:
        # a perfect prediction scores perfectly on class maps
        prediction.data = target.data.clone()
    stats = task.sample_stats(prediction.data.float().numpy()
                              if prediction.data.is_floating_point()
                              else prediction.data.numpy(),
                              target.data.numpy())
    metrics = task.summarize([stats])
    assert set(metrics) <= set(task.metric_keys) and metrics
    assert task.lower_is_better <= set(task.metric_keys)
    picture = task.draw(np.zeros((h, w, 3), np.uint8), prediction)
    assert picture.shape == (h, w, 3) and picture.dtype == np.uint8
    assert np.asarray(task.to_output(prediction)).shape[:2] == (h, w)


def test_box_task_draws_and_outputs():
    task = TASK_EXAMPLES['det']
    boxes = InstanceData(bboxes=torch.tensor([[1., 1., 5., 4.]]),
                         scores=torch.tensor([0.9]),
                         labels=torch.tensor([1]))
    picture = task.draw(np.zeros((8, 8, 3), np.uint8), boxes, ('a', 'b'))
    assert picture.shape == (8, 8, 3) and picture.any()
    assert task.to_output(boxes)['bboxes'].shape == (1, 4)
    assert task.target_key == 'gt_instances'


# Backbones ---------------------------------------------------------------

BACKBONES = registered(MODELS, 'mmsquad.models.backbones')


@pytest.mark.parametrize('name', BACKBONES)
def test_backbone_outputs_match_its_advertised_channels_and_strides(name):
    _required(name, inspect.signature(MODELS.get(name)))
    backbone = MODELS.build(dict(type=name)).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        outs = backbone(x)
    assert len(outs) == len(backbone.out_channels) == len(
        backbone.out_strides)
    for out, channels, stride in zip(outs, backbone.out_channels,
                                     backbone.out_strides):
        assert tuple(out.shape) == (2, channels, 64 // stride, 96 // stride)


@pytest.mark.parametrize('name', BACKBONES)
def test_backbone_frozen_stages_and_norm_eval(name):
    params = inspect.signature(MODELS.get(name)).parameters
    if 'frozen_stages' not in params or 'norm_eval' not in params:
        pytest.skip(f'{name} has no frozen_stages / norm_eval')
    frozen_counts = []
    for stages in (-1, 0, 1, 2):
        backbone = MODELS.build(dict(type=name, frozen_stages=stages))
        frozen_counts.append(sum(not p.requires_grad
                                 for p in backbone.parameters()))
    assert frozen_counts[0] == 0
    assert frozen_counts == sorted(frozen_counts) and len(
        set(frozen_counts)) == 4

    backbone = MODELS.build(dict(type=name, frozen_stages=1, norm_eval=True))
    backbone.train()
    norms = [m for m in backbone.modules() if isinstance(m, _BatchNorm)]
    assert norms and not any(m.training for m in norms)
    before = [m.running_mean.clone() for m in norms]
    sum(o.sum() for o in backbone(torch.randn(2, 3, 32, 32))).backward()
    assert all(torch.equal(b, m.running_mean) for b, m in zip(before, norms))
    for p in backbone.parameters():
        assert (p.grad is None) == (not p.requires_grad)


@pytest.mark.parametrize('name', BACKBONES)
def test_backbone_default_init_is_kaiming_fan_out(name):
    backbone = MODELS.build(dict(type=name))
    assert backbone.init_cfg, f'{name} has no default init_cfg'
    backbone.init_weights()
    conv = max((m for m in backbone.modules()
                if isinstance(m, torch.nn.Conv2d)),
               key=lambda m: m.weight.numel())
    fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
    assert conv.weight.std().item() == pytest.approx(
        np.sqrt(2 / fan_out), rel=0.05)


# Necks -------------------------------------------------------------------

@pytest.mark.parametrize('name', registered(MODELS, 'mmsquad.models.necks'))
def test_neck_outputs_match_its_advertised_channels_and_strides(name):
    """Per-task features as advertised (strides where the neck advertises
    them); a neck with intermediate predictions also returns them, per
    intermediate task, with the task's channels."""
    intermediate = dict(a=3, b=1, c=2)
    accepted = inspect.signature(MODELS.get(name)).parameters
    extra = dict(intermediate_channels=intermediate) if \
        'intermediate_channels' in accepted else {}
    if 'in_strides' in accepted:
        extra['in_strides'] = [4, 8]
    neck = MODELS.build(dict(type=name, tasks=['a', 'b'],
                             in_channels=[8, 16], **extra)).eval()
    feats = [torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8)]
    with torch.no_grad():
        outs = neck(feats)
    if 'intermediate_channels' in extra:
        outs, predictions = outs
        assert set(predictions) == set(intermediate)
        for task, levels in predictions.items():
            assert levels and all(
                x.shape[:2] == (2, intermediate[task])
                for x in levels.values())
    assert set(outs) == set(neck.out_channels) == {'a', 'b'}
    for task, levels in outs.items():
        assert tuple(x.shape[1] for x in levels) == neck.out_channels[task]
        if getattr(neck, 'out_strides', None) is not None:
            # The input levels are a 64x64 image's at strides 4 and 8.
            assert tuple(64 // x.shape[-1] for x in levels) == \
                tuple(neck.out_strides)
    assert 'in_strides' not in extra or neck.out_strides is not None


# Multi-task encoders -----------------------------------------------------

@pytest.mark.parametrize('name',
                         registered(MODELS, 'mmsquad.models.encoders'))
def test_encoder_outputs_match_its_advertised_channels_and_strides(name):
    encoder = MODELS.build(dict(
        type=name, tasks=['a', 'b', 'c'],
        backbone=dict(type='mmseg.ResNet', depth=18, base_channels=8))
    ).eval()
    with torch.no_grad():
        outs = encoder(torch.randn(2, 3, 64, 96))
    assert set(outs) == set(encoder.out_channels) == {'a', 'b', 'c'}
    for task, levels in outs.items():
        assert [tuple(x.shape) for x in levels] == [
            (2, c, 64 // s, 96 // s) for c, s in zip(
                encoder.out_channels[task], encoder.out_strides)]
    shared = {id(p) for p in encoder.shared_parameters()}
    assert shared and shared <= {id(p) for p in encoder.parameters()}


# Heads -------------------------------------------------------------------

HEADS = [n for n in registered(MODELS, 'mmsquad.models.heads')
         if not inspect.isabstract(MODELS.get(n))]


def _head_model(head: str, task: BaseTask):
    extra = REQUIRED_ARGS.get(head, lambda task: {})(task)
    return MODELS.build(dict(
        type='MultiTaskModel', tasks={task.name: task},
        backbone=dict(type='SquadNet', arch='tiny'),
        neck=dict(type='ExpertSquadNeck'),
        heads={task.name: dict(type=head, **extra)}))


def _samples(task: BaseTask, n: int, size: int) -> List[MultiTaskDataSample]:
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(n):
        sample = MultiTaskDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), batch_input_shape=(size, size),
            scale_factor=(1.0, 1.0)))
        if isinstance(task, BoxTask):
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor([[2., 3., 12., 14.]]),
                labels=torch.tensor([1]))
        elif isinstance(task, DenseMapTask):
            c = task.channels
            if task.target_dtype == torch.int64:
                array = rng.integers(0, max(task.out_channels, 2),
                                     (size, size)).astype(np.uint8)
            else:
                array = rng.uniform(0.1, 1, (size, size, c)).astype(
                    np.float32)
            sample.set_field(task.pack(array), task.target_key)
        else:  # an image-level label
            sample.set_field(task.pack(rng.integers(task.out_channels)),
                             task.target_key)
        samples.append(sample)
    return samples


@pytest.mark.parametrize('task', sorted(TASK_EXAMPLES))
@pytest.mark.parametrize('head', HEADS)
def test_head_meets_the_head_interface(head, task):
    """Built in a model (channels from the contract), every head trains,
    predicts each sample's field at its size and exports its outputs (or
    says it cannot, keeping the base class's export); a head that cannot
    serve a kind says so when built."""
    _required(head, inspect.signature(MODELS.get(head)),
              skip=('task', ))
    task = TASK_EXAMPLES[task]
    try:
        model = _head_model(head, task)
    except TypeError as error:  # the head does not predict this kind
        assert task.name in str(error) and type(task).__name__ in str(error)
        return
    size = 32
    x = torch.randn(2, 3, size, size)
    samples = _samples(task, 2, size)
    losses = model(x, samples, mode='loss')
    assert losses and all(torch.isfinite(v) for v in losses.values())
    # Losses, and values logged beside them (mmdet's accuracy).
    assert any('loss' in key for key in losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    model.eval()
    with torch.no_grad():
        predicted = model(x, _samples(task, 2, size), mode='predict')
        feats = model.extract_feats(x)[task.name]
        module = model.heads[task.name]
        if type(module).export is BaseTaskHead.export:
            with pytest.raises(NotImplementedError, match=head):
                module.export(feats, (size, size))
            exported = None
        else:
            exported = module.export(feats, (size, size))
    for sample in predicted:
        prediction = sample.get(task.prediction_key)
        assert prediction is not None
        if isinstance(task, DenseMapTask):
            assert prediction.shape == (size, size)
    if exported is None:
        return
    assert exported and all(isinstance(v, torch.Tensor)
                            for v in exported.values())
    if isinstance(task, DenseMapTask):
        assert tuple(exported[task.name].shape) == (2, task.out_channels,
                                                    size, size)


@pytest.mark.parametrize('head', HEADS)
def test_head_gives_a_ddp_safe_zero_loss_without_targets(head):
    for task in TASK_EXAMPLES.values():
        try:
            model = _head_model(head, task)
            break
        except TypeError:
            continue
    samples = _samples(task, 2, 32)
    for sample in samples:
        delattr(sample, task.target_key)
    losses = model(torch.randn(2, 3, 32, 32), samples, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert total.item() == 0
    total.backward()
    assert all(p.grad is not None for p in model.heads.parameters())


# Losses ------------------------------------------------------------------

#: A task of each loss's kind: the kinds whose default loss it is.
LOSS_KINDS = {task.default_loss['type']: task
              for task in TASK_EXAMPLES.values()
              if task.default_loss is not None}


@pytest.mark.parametrize('name', registered(MODELS, 'mmsquad.models.losses'))
def test_loss_is_a_finite_scalar_that_reaches_the_prediction(name):
    assert name in LOSS_KINDS, (
        f'{name} is no task kind\'s default loss: give it a test target')
    task = LOSS_KINDS[name]
    loss = MODELS.build(dict(type=name))
    assert loss.loss_name.startswith('loss')
    target = torch.stack([s.get(task.target_key).data
                          for s in _samples(task, 2, 16)])
    pred = torch.randn(2, task.out_channels, 16, 16, requires_grad=True)
    value = loss(pred.sigmoid(), target)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert pred.grad.abs().sum() > 0


# Metrics -----------------------------------------------------------------

@pytest.mark.parametrize('name', registered(METRICS, 'mmsquad.'))
def test_metric_reports_the_keys_it_advertises(name, underwater_root):
    if name == 'CocoDetectionMetric':
        ann_file = underwater_root + '/annotations/instances_test.json'
        metric = METRICS.build(dict(type=name, metric='bbox',
                                    ann_file=ann_file))
        metric.dataset_meta = dict(classes=DUO_CLASSES)
        with open(ann_file) as f:
            images = json.load(f)['images']
        # no detections at all: zero precision under mmdet's key names
        metric.process({}, [dict(
            img_id=image['id'], ori_shape=(image['height'], image['width']),
            pred_instances=dict(bboxes=torch.zeros(0, 4),
                                scores=torch.zeros(0),
                                labels=torch.zeros(0).long()))
            for image in images])
        assert metric.compute_metrics(metric.results)['bbox_mAP'] == 0
        return
    scored = {n: t for n, t in TASK_EXAMPLES.items() if t.metric_keys}
    metric = METRICS.build(dict(type=name, tasks=scored))
    records = []
    for task in scored.values():
        target = _samples(task, 1, 40)[0].get(task.target_key).to_dict()
        records.append({task.target_key: target,
                        task.prediction_key: target})
    metric.process({}, records)
    results = metric.compute_metrics(metric.results)
    assert set(results) == {f'{n}/{k}' for n, t in scored.items()
                            for k in t.metric_keys}


# Hooks -------------------------------------------------------------------

@pytest.mark.parametrize('name', registered(HOOKS, 'mmsquad.'))
def test_hook_builds_with_its_defaults(name):
    _required(name, inspect.signature(HOOKS.get(name)))
    hook = HOOKS.build(dict(type=name))
    assert isinstance(hook, Hook)


# Optim wrappers ----------------------------------------------------------

@pytest.mark.parametrize('name', registered(OPTIM_WRAPPERS, 'mmsquad.'))
def test_optim_wrapper_updates_a_multitask_model(name):
    if name.startswith('CPUAmp') and not cpu_supports_bfloat16():
        pytest.skip('this CPU has no bfloat16')
    torch.manual_seed(0)
    second = TASK_EXAMPLES['sal']
    model = MODELS.build(dict(
        type='MultiTaskModel', backbone=dict(type='SquadNet', arch='tiny'),
        neck=dict(type='ExpertSquadNeck'),
        tasks=dict(semseg=TASK_EXAMPLES['semseg'], sal=second),
        heads=dict(semseg=dict(type='ASPPTaskHead', channels=8),
                   sal=dict(type='ASPPTaskHead', channels=8))))
    wrapper = OPTIM_WRAPPERS.build(dict(
        type=name, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        **REQUIRED_ARGS.get(name, {})))
    assert isinstance(wrapper, OptimWrapper)
    samples = _samples(TASK_EXAMPLES['semseg'], 2, 32)
    for sample, sal in zip(samples, _samples(second, 2, 32)):
        sample.gt_sal = sal.gt_sal
    before = [p.detach().clone() for p in model.parameters()]
    model.train_step(dict(inputs=torch.randn(2, 3, 32, 32),
                          data_samples=samples), wrapper)
    changed = [not torch.equal(b, p) for b, p in
               zip(before, model.parameters())]
    assert all(changed[i] for i, (n, _) in enumerate(
        model.named_parameters()) if n.startswith('backbone.stem'))
    assert all(torch.isfinite(p).all() for p in model.parameters())
