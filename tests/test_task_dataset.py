"""mmseg's own dataset configs feeding an mmsquad task (TaskDataset), mmseg's
IoUMetric against MultiTaskMetric, and mixing datasets of different tasks."""
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import mmengine
import torch
from mmengine.config import Config
from mmengine.dataset import ConcatDataset, pseudo_collate
from mmengine.optim import OptimWrapper

import mmseg
from conftest import REPO, TINY_CONFIG
from toolkit.synthetic import make_pascal_context_59
from mmsquad.evaluation import MultiTaskMetric
from mmsquad.registry import DATASETS, MODELS
from mmsquad.tasks import InvalidTargetError
from toolkit.tool_setup import (fall_back_from_cuda_amp,
                                      refuse_endless_epochs)

MMSEG_CONFIGS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')
CONTEXT59 = dict(name='context59', type='LabelMapTask', num_classes=59)
SIZES = [(61, 83), (70, 50), (45, 45)]  # the last one grayscale


@pytest.fixture(scope='module')
def voc2010(tmp_path_factory) -> str:
    return make_pascal_context_59(str(tmp_path_factory.mktemp('VOC2010')),
                                  SIZES, seed=5)


def mmseg_dataset(split: str, root: str) -> dict:
    """mmseg's bundled PASCAL-Context-59 dataset config of ``split``, read
    from the installed mmseg, pointed at ``root``."""
    cfg = Config.fromfile(osp.join(MMSEG_CONFIGS, '_base_', 'datasets',
                                   'pascal_context_59.py'))
    return dict(cfg[f'{split}_dataloader'].dataset, data_root=root)


def task_dataset(split: str, root: str):
    return DATASETS.build(dict(type='TaskDataset', task=CONTEXT59,
                               scope='mmseg',
                               dataset=mmseg_dataset(split, root)))


def test_mmseg_pipelines_decode_in_stored_order(voc2010):
    """mmseg's bundled configs decode images with their EXIF orientation
    but read label PNGs as stored; the wrapped pipeline is switched to the
    stored order."""
    assert mmseg_dataset('val', voc2010)['pipeline'][0].get(
        'color_type', 'color') == 'color'
    loader = task_dataset('val', voc2010).dataset.pipeline.transforms[0]
    assert loader.color_type == 'color_ignore_orientation'


def test_a_label_outside_the_task_classes_is_named(voc2010, tmp_path):
    import shutil
    root = str(tmp_path / 'VOC2010')
    shutil.copytree(voc2010, root)
    with open(osp.join(root, 'ImageSets', 'SegmentationContext',
                       'val.txt')) as f:
        label = osp.join(root, 'SegmentationClassContext',
                         f'{f.readline().strip()}.png')
    values = cv2.imread(label, cv2.IMREAD_UNCHANGED)
    values[0, :4] = 70  # 69 after mmseg's reduce_zero_label: beyond 59
    cv2.imwrite(label, values)
    dataset = task_dataset('val', root)
    index = next(i for i in range(len(dataset)) if osp.basename(label) in
                 dataset.get_data_info(i)['seg_map_path'])
    with pytest.raises(InvalidTargetError,
                       match=rf"{osp.basename(label)}: invalid target of "
                       r"task 'context59' .*4 of \d+ pixels hold 69"):
        dataset[index]


def test_an_empty_image_of_a_wrapped_dataset_is_named(voc2010, tmp_path):
    import shutil
    root = str(tmp_path / 'VOC2010')
    shutil.copytree(voc2010, root)
    dataset = task_dataset('val', root)
    path = dataset.get_data_info(0)['img_path']
    open(path, 'wb').close()
    with pytest.raises(OSError, match=re.escape(path)):
        dataset[0]


def test_mmseg_samples_become_the_task_target_at_the_original_size(voc2010):
    dataset = task_dataset('val', voc2010)
    assert len(dataset) == len(SIZES)
    assert dataset.metainfo['classes'][0] == 'aeroplane'
    for index, (h, w) in enumerate(SIZES):
        packed = dataset[index]
        sample = packed['data_samples']
        assert sample.labelled_tasks == ['context59']
        assert sample.ori_shape == (h, w)
        assert packed['inputs'].shape[0] == 3  # grayscale read as colour
        # mmseg's reduce_zero_label, by hand: 0 (background) is ignored,
        # the 59 classes become 0..58.
        png = cv2.imread(osp.join(voc2010, 'SegmentationClassContext',
                                  f'val_{index:03d}.png'),
                         cv2.IMREAD_UNCHANGED).astype(np.int64)
        expected = np.where(png == 0, 255, png - 1)
        np.testing.assert_array_equal(
            sample.gt_context59.data.numpy()[0], expected)
        assert sample.gt_context59.ignore_index == 255


def test_mmseg_iou_metric_agrees_with_multitask_metric(voc2010):
    """The same predictions scored by mmseg's IoUMetric and by mmsquad's
    metric (the context59 task) give the same mIoU."""
    from mmseg.evaluation import IoUMetric
    dataset = task_dataset('val', voc2010)
    ours = MultiTaskMetric(tasks=[CONTEXT59])
    theirs = IoUMetric(iou_metrics=['mIoU'])
    theirs.dataset_meta = dataset.metainfo
    rng = np.random.default_rng(0)
    for index in range(len(dataset)):
        gt = dataset[index]['data_samples'].gt_context59.data
        # Right where the label is one of a few classes, wrong elsewhere.
        pred = torch.where((gt < 20) & torch.from_numpy(
            rng.random(gt.shape) < 0.7), gt, torch.from_numpy(
                rng.integers(0, 59, gt.shape)))
        ours.process({}, [{'gt_context59': {'data': gt},
                           'pred_context59': {'data': pred}}])
        theirs.process({}, [{'gt_sem_seg': {'data': gt},
                             'pred_sem_seg': {'data': pred}}])
    expected = theirs.compute_metrics(theirs.results)['mIoU']
    result = ours.compute_metrics(ours.results)['context59/mIoU']
    assert result == pytest.approx(expected, abs=0.01)  # mmseg rounds


def test_a_shipped_config_trains_on_mmseg_data(voc2010, tmp_path):
    """configs/mmseg_data/squad_pascal_context_59.py inherits mmseg's
    dataset config; tiny SquadNet trains a step and validates on it."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mmseg_data',
                                   'squad_pascal_context_59.py'))
    cfg.model.backbone.arch = 'tiny'
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].update(batch_size=2, num_workers=0,
                           persistent_workers=False)
        cfg[loader].dataset.dataset.data_root = voc2010
    cfg.train_dataloader.dataset.dataset.pipeline[2].scale = (64, 64)
    cfg.train_dataloader.dataset.dataset.pipeline[3].crop_size = (48, 48)
    cfg.val_dataloader.dataset.dataset.pipeline[1].scale = (64, 64)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.work_dir = str(tmp_path)
    fall_back_from_cuda_amp(cfg)  # as tools/train.py does
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert np.isfinite(scalars['train/context59.loss_ce'].current())
    assert 0 <= scalars['val/context59/mIoU'].current() <= 100


def test_datasets_of_different_tasks_mix_in_one_batch(voc2010, demo_root):
    """An mmseg dataset for context59 and mmsquad's PASCAL-MT demo set for
    semseg and saliency, concatenated: a batch of both trains each head
    from its own samples only."""
    tiny = Config.fromfile(TINY_CONFIG)
    tiny.model.tasks = [CONTEXT59, 'semseg', 'sal']
    tiny.model.heads = dict(context59=dict(type='ASPPTaskHead', channels=16),
                            semseg=tiny.model.heads.semseg,
                            sal=tiny.model.heads.sal)
    tiny.model.task_weights = None
    model = MODELS.build(tiny.model)
    mmsquad_set = dict(tiny.train_dataloader.dataset, data_root=demo_root,
                       tasks=['semseg', 'sal'])
    mmseg_set = dict(type='TaskDataset', task=CONTEXT59, scope='mmseg',
                     dataset=mmseg_dataset('val', voc2010))
    mmseg_set['dataset']['pipeline'][1]['scale'] = (64, 64)  # for time
    parts = [DATASETS.build(mmsquad_set), DATASETS.build(mmseg_set)]
    # The parts describe different classes: ConcatDataset must not compare.
    mixed = ConcatDataset(parts, ignore_keys=sorted(
        set(parts[0].metainfo) | set(parts[1].metainfo)))
    batch = pseudo_collate([mixed[0], mixed[len(mixed) - 1]])
    # Different image sizes: the preprocessor pads, targets with them.
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    log = model.train_step(batch, wrapper)
    assert {'context59.loss_ce', 'semseg.loss_ce', 'sal.loss_bce'} <= \
        set(log)
    assert all(torch.isfinite(v) for v in log.values())
    # Each task's loss is its loss on its own sample alone.
    model.eval()
    data = model.data_preprocessor(batch, True)
    with torch.no_grad():
        both = model.loss(data['inputs'], data['data_samples'])
        alone = model.loss(data['inputs'][1:], data['data_samples'][1:])
    torch.testing.assert_close(both['context59.loss_ce'],
                               alone['context59.loss_ce'])


def test_task_dataset_refuses_a_kind_it_cannot_fill(voc2010):
    with pytest.raises(TypeError, match='source_key'):
        DATASETS.build(dict(
            type='TaskDataset', scope='mmseg',
            task=dict(name='scene', type='ImageLabelTask', num_classes=3),
            dataset=mmseg_dataset('val', voc2010)))


def test_an_infinite_sampler_under_an_epoch_loop_is_refused(tmp_path):
    """mmseg's dataset configs use InfiniteSampler: under mmsquad's
    epoch-based schedules the first epoch would never end, so
    tools/train.py stops before building anything."""
    shipped = osp.join(REPO, 'configs', 'mmseg_data',
                       'squad_pascal_context_59.py')
    config = tmp_path / 'endless.py'
    config.write_text(
        f"_base_ = ['{shipped}']\n"
        "train_dataloader = dict(sampler=dict(type='InfiniteSampler', "
        "shuffle=True))\n")
    result = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), str(config),
         '--work-dir', str(tmp_path / 'work')],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert re.search('InfiniteSampler.*DefaultSampler', result.stderr)
    assert not (tmp_path / 'work').exists()
    cfg = Config(dict(train_dataloader=dict(sampler=dict(
        type='InfiniteSampler')), train_cfg=dict(
            type='IterBasedTrainLoop', max_iters=10)))
    refuse_endless_epochs(cfg)  # mmseg's own way: fine


def test_an_mmdet_dataset_keeps_its_semantic_maps_for_the_box_task(
        underwater_root):
    """mmdet's CocoDataset with LoadAnnotations(with_seg=True), as HTC's
    config loads it: the box task's samples keep gt_sem_seg beside the
    boxes (HTC's semantic head trains on it)."""
    dataset = DATASETS.build(dict(
        type='TaskDataset', task=dict(name='det', type='BoxTask'),
        scope='mmdet', dataset=dict(
            type='CocoDataset', data_root=underwater_root,
            ann_file='annotations/instances_train.json',
            metainfo=dict(classes=('holothurian', 'echinus', 'scallop',
                                   'starfish')),
            data_prefix=dict(img='images/train/', seg='semantic/train/'),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations', with_bbox=True,
                           with_seg=True),
                      dict(type='PackDetInputs')])))
    sample = dataset[0]['data_samples']
    stored = cv2.imread(osp.join(underwater_root, 'semantic', 'train',
                                 'train_00000.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(sample.gt_sem_seg.sem_seg[0].numpy(),
                                  stored)
    assert len(sample.gt_instances.bboxes)


def test_an_mmdet_dataset_keeps_its_proposals(
        underwater_root):
    """mmdet's CocoDataset with a proposal_file, as Fast R-CNN's test
    config loads it (no boxes): the box task's samples keep the proposals
    (Fast R-CNN trains and predicts from them)."""
    dataset = DATASETS.build(dict(
        type='TaskDataset', task=dict(name='det', type='BoxTask'),
        scope='mmdet', dataset=dict(
            type='CocoDataset', data_root=underwater_root,
            ann_file='annotations/instances_test.json',
            proposal_file='proposals/test.pkl',
            metainfo=dict(classes=('holothurian', 'echinus', 'scallop',
                                   'starfish')),
            data_prefix=dict(img='images/test/'),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadProposals'),
                      dict(type='PackDetInputs')])))
    sample = dataset[0]['data_samples']
    stored = mmengine.load(osp.join(underwater_root, 'proposals',
                                    'test.pkl'))['test/test_00000.jpg']
    np.testing.assert_array_equal(sample.proposals.bboxes.numpy(),
                                  stored['bboxes'])
