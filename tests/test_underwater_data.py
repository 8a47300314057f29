"""Underwater data: COCO sets with references, enhancement-only pairs,
reference-aware transforms, packing and the mixed-source sampler."""
import copy
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope

from conftest import REPO, UNDERWATER_DEMO_CONFIG
from mmsquad.registry import DATA_SAMPLERS, DATASETS, TRANSFORMS
from mmsquad.tasks import build_tasks

init_default_scope('mmsquad')


def dataset_cfg(root, split='train', **overrides):
    cfg = Config.fromfile(UNDERWATER_DEMO_CONFIG)
    loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
    return dict(copy.deepcopy(loader.dataset.to_dict()), data_root=root,
                **overrides)


def write_json(root, name, edit):
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    edit(coco)
    path = osp.join(root, 'annotations', name)
    with open(path, 'w') as f:
        json.dump(coco, f)
    return f'annotations/{name}'


def test_coco_set_with_references(underwater_root):
    dataset = DATASETS.build(dataset_cfg(underwater_root))
    assert len(dataset) == 8
    assert dataset.metainfo['classes'] == ('holothurian', 'echinus',
                                           'scallop', 'starfish')
    info = dataset.get_data_info(0)
    assert osp.isfile(info['ref_path'])
    assert osp.basename(info['ref_path']) == osp.basename(info['img_path'])
    sample = dataset[0]['data_samples']
    assert 'gt_instances' in sample and sample.has_target('enhance')
    boxes = sample.gt_instances.bboxes.tensor
    with open(osp.join(underwater_root, 'annotations',
                       'instances_train.json')) as f:
        coco = json.load(f)
    image = next(i for i in coco['images']
                 if i['file_name'] == osp.basename(info['img_path']))
    anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
    assert len(boxes) == len(anns)


def test_reference_from_the_image_entry(underwater_root, tmp_path):
    ann = write_json(underwater_root, 'with_field.json', lambda c: [
        img.update(clean=f'reference/train/{img["file_name"]}')
        for img in c['images'][:3]])
    dataset = DATASETS.build(dataset_cfg(
        underwater_root, ann_file=ann, data_prefix=dict(img='images/train/'),
        ref_key='clean'))
    refs = [dataset.get_data_info(i)['ref_path'] for i in range(8)]
    assert sum(r is not None for r in refs) == 3
    # A sample without reference trains detection only.
    sample = dataset[refs.index(None)]['data_samples']
    assert not sample.has_target('enhance') and 'gt_instances' in sample


@pytest.mark.parametrize('edit, message', [
    (lambda c: c['annotations'][0].update(bbox=[50.0, 50.0, 30.0, 30.0]),
     'outside the 64x64 image'),
    (lambda c: c['annotations'][0].update(category_id=9),
     'category id 9, which the json does not define'),
    (lambda c: c['images'][1].update(file_name='nowhere.jpg'),
     'nowhere.jpg'),
    (lambda c: c['categories'][2].update(name='octopus'),
     "no category named ['scallop']"),
])
def test_bad_annotations_fail_naming_the_image(underwater_root, edit,
                                               message):
    coco_images = json.load(open(osp.join(
        underwater_root, 'annotations', 'instances_train.json')))['images']
    ann = write_json(underwater_root, 'bad.json', edit)
    with pytest.raises((ValueError, KeyError, FileNotFoundError)) as err:
        DATASETS.build(dataset_cfg(underwater_root, ann_file=ann))
    assert message in str(err.value)
    if 'category id' in message or 'outside' in message:
        assert coco_images[0]['file_name'] in str(err.value)


def uieb_root(underwater_root, tmp_path):
    root = tmp_path / 'UIEB'
    shutil.copytree(osp.join(underwater_root, 'images', 'train'),
                    root / 'raw')
    shutil.copytree(osp.join(underwater_root, 'reference', 'train'),
                    root / 'reference')
    return str(root)


def enhancement_cfg(root):
    pipeline = dataset_cfg(root)['pipeline']
    return dict(type='EnhancementPairDataset', data_root=root,
                pipeline=pipeline)


def test_enhancement_pairs(underwater_root, tmp_path):
    root = uieb_root(underwater_root, tmp_path)
    dataset = DATASETS.build(enhancement_cfg(root))
    assert len(dataset) == 8
    sample = dataset[0]['data_samples']
    assert sample.has_target('enhance') and 'gt_instances' not in sample
    os.remove(osp.join(root, 'reference', 'train_00003.jpg'))
    with pytest.raises(FileNotFoundError, match='train_00003.jpg'):
        DATASETS.build(enhancement_cfg(root))


def test_reference_follows_resize_and_flip_but_not_photometric():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    boxes = np.array([[5, 6, 20, 30]], np.float32)

    def results():
        from mmdet.structures.bbox import HorizontalBoxes
        return dict(img=img.copy(), ref_img=img.copy(), img_path='x.jpg',
                    img_shape=img.shape[:2], ori_shape=img.shape[:2],
                    gt_bboxes=HorizontalBoxes(boxes.copy()),
                    gt_bboxes_labels=np.array([1]),
                    gt_ignore_flags=np.array([False]))

    geometric = [dict(type='mmdet.RandomResize', scale=(90, 45),
                      ratio_range=(0.5, 1.5), keep_ratio=True,
                      resize_type='mmdet.Resize'),
                 dict(type='mmdet.RandomCrop', crop_size=(30, 40),
                      allow_negative_crop=True),
                 dict(type='mmdet.RandomFlip', prob=0.5)]
    wrapped = TRANSFORMS.build(dict(type='WithReference',
                                    transforms=geometric))
    plain = TRANSFORMS.build(dict(type='mmdet.Compose',
                                  transforms=geometric))
    photometric = TRANSFORMS.build(dict(type='mmdet.PhotoMetricDistortion'))
    flips, crops = set(), set()
    for seed in range(6):
        np.random.seed(seed)
        out = wrapped(results())
        np.random.seed(seed)
        expected = plain(results())
        # The input and its boxes go through the transforms exactly once,
        # the reference follows with the same random parameters.
        np.testing.assert_array_equal(out['img'], expected['img'])
        np.testing.assert_allclose(out['gt_bboxes'].numpy(),
                                   expected['gt_bboxes'].numpy())
        np.testing.assert_array_equal(out['ref_img'], out['img'])
        flips.add(out['flip'])
        crops.add(out['img'].tobytes())
        before = out['ref_img'].copy()
        out = photometric(out)
        np.testing.assert_array_equal(out['ref_img'], before)
    assert flips == {True, False} and len(crops) == 6


def test_proposals_and_reference_share_the_random_parameters():
    """Inside mmdet's ProposalBroadcaster (Fast R-CNN's proposals), the
    proposals, the input, its boxes and its reference all take the same
    random resize, crop and flip (the proposals flipped on their own half
    the time before)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    boxes = np.array([[5, 6, 20, 30], [30, 2, 58, 39]], np.float32)

    def results():
        from mmdet.structures.bbox import HorizontalBoxes
        return dict(img=img.copy(), ref_img=img.copy(), img_path='x.jpg',
                    img_shape=img.shape[:2], ori_shape=img.shape[:2],
                    gt_bboxes=HorizontalBoxes(boxes.copy()),
                    gt_bboxes_labels=np.array([1, 2]),
                    gt_ignore_flags=np.array([False, False]),
                    proposals=boxes.copy(),
                    proposals_scores=np.ones(2, np.float32))

    broadcast = TRANSFORMS.build(dict(
        type='mmdet.ProposalBroadcaster', transforms=[dict(
            type='WithReference', transforms=[
                dict(type='mmdet.RandomResize', scale=(90, 45),
                     ratio_range=(0.5, 1.5), keep_ratio=True,
                     resize_type='mmdet.Resize'),
                dict(type='mmdet.RandomFlip', prob=0.5)])]))
    flips = []
    for seed in range(8):
        np.random.seed(seed)
        out = broadcast(results())
        np.testing.assert_allclose(out['proposals'],
                                   out['gt_bboxes'].numpy(), atol=1e-4)
        np.testing.assert_array_equal(out['ref_img'], out['img'])
        flips.append(out['flip'])
    assert set(flips) == {True, False}


def test_packed_reference_is_rgb_in_unit_range():
    bgr = np.random.default_rng(1).integers(0, 255, (8, 10, 3), np.uint8)
    pack = TRANSFORMS.build(dict(type='PackUnderwaterInputs'))
    packed = pack(dict(img=bgr, ref_img=bgr, img_path='x.jpg', img_id=1,
                       ori_shape=(8, 10), img_shape=(8, 10),
                       det_labelled=False,
                       tasks=build_tasks(['det', 'enhance'])))
    sample = packed['data_samples']
    expected = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1) / 255
    torch.testing.assert_close(sample.get_target('enhance').data, expected)
    assert 'gt_instances' not in sample
    assert sample.scale_factor == (1.0, 1.0)
    with pytest.raises(KeyError, match='image tasks'):
        pack(dict(img=bgr, ref_img=bgr, img_path='x.jpg', img_id=1,
                  ori_shape=(8, 10), img_shape=(8, 10), det_labelled=False))


def test_reference_of_another_size_fails(underwater_root, tmp_path):
    root = uieb_root(underwater_root, tmp_path)
    ref = osp.join(root, 'reference', 'train_00000.jpg')
    import cv2
    cv2.imwrite(ref, np.zeros((10, 10, 3), np.uint8))
    dataset = DATASETS.build(enhancement_cfg(root))
    with pytest.raises(ValueError, match='train_00000.jpg'):
        dataset[0]


def test_partial_config_mixes_both_sets_in_every_batch(underwater_root,
                                                       tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'squad',
                                   'underwater_partial.py'))
    datasets = cfg.train_dataloader.dataset.datasets
    datasets[0].data_root = underwater_root
    datasets[1].data_root = uieb_root(underwater_root, tmp_path)
    for d in datasets:  # the demo images are small
        d.pipeline = dataset_cfg(underwater_root)['pipeline']
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert isinstance(dataset, ConcatDataset)
    sampler = DATA_SAMPLERS.build(cfg.train_dataloader.sampler,
                                  default_args=dict(dataset=dataset, seed=0))
    indices = iter(sampler)
    batch_size = cfg.train_dataloader.batch_size
    for _ in range(5):
        batch = [dataset[next(indices)]['data_samples']
                 for _ in range(batch_size)]
        det = sum('gt_instances' in s for s in batch)
        enhance = sum(s.has_target('enhance') for s in batch)
        assert det == 2 and enhance == 2


def test_semantic_maps_follow_the_boxes_and_a_missing_one_is_named(
        underwater_root, tmp_path):
    """With data_prefix seg and mmdet's LoadAnnotations(with_seg=True),
    the box task's samples carry gt_sem_seg (HTC's semantic head trains on
    it), resized and flipped with the image; a missing map is named when
    the dataset is built."""
    cfg = dataset_cfg(underwater_root)
    cfg['data_prefix']['seg'] = 'semantic/train/'
    for step in cfg['pipeline']:
        if step['type'].endswith('LoadAnnotations'):
            step['with_seg'] = True
    sample = DATASETS.build(cfg)[0]
    semantic = sample['data_samples'].gt_sem_seg.sem_seg
    assert semantic.shape[-2:] == sample['inputs'].shape[-2:]
    stored = cv2.imread(osp.join(underwater_root, 'semantic', 'train',
                                 'train_00000.png'), cv2.IMREAD_UNCHANGED)
    assert set(semantic.unique().tolist()) == set(np.unique(stored).tolist())
    root = str(tmp_path / 'uw')
    shutil.copytree(underwater_root, root)
    os.remove(osp.join(root, 'semantic', 'train', 'train_00002.png'))
    with pytest.raises(FileNotFoundError, match=r'semantic map of '
                       r'train_00002.jpg'):
        DATASETS.build(dict(cfg, data_root=root))
