"""One SquadNet on three datasets of three packages, each labelled for one
task (configs/multi_source/): mixed batches, every head trained from its
own source, and validation across the sources scored as each source alone
would be."""
import copy
import os.path as osp
import uuid

import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from conftest import REPO
from toolkit.synthetic import (make_coco_detection, make_nyud_mt,
                                        make_pascal_context_59)
from mmsquad.evaluation import CocoDetectionMetric
from mmsquad.registry import DATASETS
from toolkit.tool_setup import (fall_back_from_cuda_amp,
                                      load_tool_config)

CONFIG = osp.join(REPO, 'configs', 'multi_source',
                  'squad_coco_context59_nyud_depth.py')
SIZES = [(97, 131), (120, 80), (64, 64)]  # the last one grayscale


@pytest.fixture(scope='module')
def config(tmp_path_factory) -> Config:
    """The shipped config on generated COCO, PASCAL-Context-59 and NYUD_MT
    layouts, with smaller images, batches and schedule."""
    base = tmp_path_factory.mktemp('multi_source')
    roots = dict(CocoDataset=make_coco_detection(str(base / 'coco'), SIZES),
                 PascalContextDataset59=make_pascal_context_59(
                     str(base / 'VOC2010'), SIZES),
                 NYUDv2MTDataset=make_nyud_mt(str(base / 'NYUD_MT'), SIZES))
    cfg = Config.fromfile(CONFIG)
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        for part in cfg[loader].dataset.datasets:
            part = part.dataset if part.type == 'TaskDataset' else part
            part.data_root = roots[part.type]
            for transform in part.pipeline:
                for key in ('scale', 'crop_size'):
                    if key in transform:
                        transform[key] = (128, 96)
    cfg.test_dataloader = cfg.val_dataloader
    for metric in cfg.val_evaluator:
        if 'ann_file' in metric:
            metric.ann_file = osp.join(roots['CocoDataset'], 'annotations',
                                       'instances_val2017.json')
    cfg.test_evaluator = cfg.val_evaluator
    cfg.model.backbone.arch = 'tiny'
    return cfg


def task_of(sample) -> str:
    """The one task a sample is labelled for."""
    tasks = sample.labelled_tasks + (['det'] if 'gt_instances' in sample
                                     else [])
    assert len(tasks) == 1, tasks
    return tasks[0]


def test_every_batch_has_two_samples_of_each_source(config):
    loader = Runner.build_dataloader(config.train_dataloader, seed=0)
    for _, batch in zip(range(3), loader):
        tasks = [task_of(s) for s in batch['data_samples']]
        assert sorted(tasks) == ['context59'] * 2 + ['depth'] * 2 + \
            ['det'] * 2


def test_trains_every_head_and_validates_every_source(config, tmp_path):
    cfg = copy.deepcopy(config)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=2)
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'multi_source_{uuid.uuid4().hex}'
    cfg.visualizer.name = cfg.experiment_name
    fall_back_from_cuda_amp(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    for key in ('det.loss_cls', 'det.loss_bbox', 'context59.loss_ce',
                'depth.loss_l1'):
        value = scalars[f'train/{key}'].current()
        assert np.isfinite(value) and value > 0, (key, value)
    for key in ('coco/bbox_mAP', 'context59/mIoU', 'depth/rmse'):
        assert np.isfinite(scalars[f'val/{key}'].current()), key
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))


def predicted(sample, rng: np.random.Generator):
    """``sample`` with predicted boxes: its true ones jittered, and false
    ones, scored at random (random boxes on samples without any)."""
    truth = sample.gt_instances.bboxes.numpy() if 'gt_instances' in sample \
        else np.zeros((0, 4), np.float32)
    h, w = sample.ori_shape
    corners = rng.uniform(0, 1, (3, 2)) * [w / 2, h / 2]
    false = np.concatenate([corners, corners + [w / 2, h / 2]], axis=1)
    boxes = np.concatenate([truth + rng.normal(0, 2, truth.shape), false])
    labels = np.concatenate([
        sample.gt_instances.labels.numpy() if len(truth) else [],
        rng.integers(0, 80, len(false))]).astype(np.int64)
    sample.pred_instances = InstanceData(
        bboxes=torch.as_tensor(boxes, dtype=torch.float32),
        scores=torch.as_tensor(rng.uniform(0.1, 1, len(boxes)),
                               dtype=torch.float32),
        labels=torch.as_tensor(labels))
    return sample.to_dict()


def test_coco_metric_over_all_sources_equals_mmdets_over_the_coco_set(
        config):
    """CocoDetectionMetric(only_labelled=True) on the concatenated val set
    equals mmdet's CocoMetric on the COCO set's samples alone."""
    dataset = DATASETS.build(config.val_dataloader.dataset)
    rng = np.random.default_rng(0)
    samples = [predicted(dataset[i]['data_samples'], rng)
               for i in range(len(dataset))]
    ann_file = config.val_evaluator[0].ann_file
    ours = CocoDetectionMetric(ann_file=ann_file, metric='bbox',
                               only_labelled=True)
    ours.dataset_meta = dataset.metainfo
    ours.process({}, samples)
    # One result a sample: mmengine's distributed collection keeps the
    # first len(dataset), dropping the samples repeated to fill the ranks.
    assert len(ours.results) == len(samples)
    coco = DATASETS.build(config.val_dataloader.dataset.datasets[0])
    reference = CocoMetric(ann_file=ann_file, metric='bbox')
    reference.dataset_meta = coco.metainfo
    reference.process({}, [s for s in samples if 'gt_instances' in s])
    assert len(reference.results) == len(SIZES) < len(samples)
    expected = reference.evaluate(len(SIZES))
    assert ours.evaluate(len(samples)) == expected
    assert 0.1 < expected['coco/bbox_mAP'] < 1  # neither empty nor trivial


def test_coco_metric_refuses_classes_its_annotations_lack(config):
    metric = CocoDetectionMetric(ann_file=config.val_evaluator[0].ann_file,
                                 metric='bbox')
    context59 = DATASETS.build(config.val_dataloader.dataset.datasets[1])
    with pytest.raises(ValueError, match=r"classes \['aeroplane'.*first"):
        metric.dataset_meta = context59.metainfo


def test_a_batch_too_small_for_every_source_is_refused():
    """mmdet's MultiSourceSampler would wait forever for a source's sample
    in batches of 2 from 3 sources; the tools stop first."""
    with pytest.raises(ValueError, match=r'gives the sources \[2, 0, 0\]'):
        load_tool_config(CONFIG, cfg_options={
            'train_dataloader.sampler.batch_size': 2})
    assert load_tool_config(CONFIG).train_dataloader.sampler.batch_size == 6
