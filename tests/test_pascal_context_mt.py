"""PascalContextMTDataset on rendered data in the real archive layout, the
aligned transforms, and the named errors for bad files."""
import os
import shutil

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from mmsquad.datasets.transforms import (MultiTaskRandomCrop,
                                         MultiTaskRandomFlip,
                                         MultiTaskRandomScaleRotate,
                                         MultiTaskResize)
from mmsquad.datasets.pascal_context_mt import load_human_parts
from mmsquad.registry import DATASETS
from mmsquad.tasks import build_tasks

ALL_TASKS = ['semseg', 'human_parts', 'sal', 'normals', 'edge']


def build(root, tasks=ALL_TASKS, pipeline=None, split='train'):
    return DATASETS.build(dict(
        type='PascalContextMTDataset', data_root=root, split=split,
        tasks=tasks, pipeline=pipeline or [
            dict(type='LoadImageFromFile'),
            dict(type='LoadMultiTaskAnnotations'),
            dict(type='PackMultiTaskInputs')]))


def test_loads_every_task_from_the_archive_layout(demo_root):
    dataset = build(demo_root)
    assert len(dataset) == 8
    item = dataset[0]
    sample = item['data_samples']
    assert item['inputs'].shape == (3, 32, 32)
    for task in set(ALL_TASKS) & set(sample.labelled_tasks):
        assert sample.get_target(task).shape == (32, 32)
    semseg = sample.gt_semseg.data
    assert set(semseg.unique().tolist()) <= {0, 5, 15, 20}
    normals = sample.gt_normals.data
    valid = (normals != 255).all(0)
    assert valid.any() and not valid.all()  # the poster is ignored
    assert np.allclose(normals[:, valid].norm(dim=0), 1, atol=0.02)


def test_tasks_choose_what_loads(demo_root):
    sample = build(demo_root, tasks=['sal'])[0]['data_samples']
    assert sample.labelled_tasks == ['sal']


def test_human_parts_follow_the_six_part_grouping(tmp_path):
    mask = np.zeros((4, 4), np.uint8)
    head, lhand = mask.copy(), mask.copy()
    head[0, :2] = 1
    lhand[3, 3] = 1
    parts = np.zeros((1, 2), dtype=[('part_name', 'O'), ('mask', 'O')])
    parts[0, 0] = ('leye', head)
    parts[0, 1] = ('lhand', lhand)
    objects = np.zeros((1, 2), dtype=[('class', 'O'), ('class_ind', 'O'),
                                      ('mask', 'O'), ('parts', 'O')])
    objects[0, 0] = ('cat', np.array([[8]]), mask + 1, np.zeros((0, 0)))
    objects[0, 1] = ('person', np.array([[15]]), head | lhand, parts)
    path = str(tmp_path / 'x.mat')
    sio.savemat(path, dict(anno=dict(imname='x', objects=objects)))
    target = load_human_parts(path)
    expected = np.zeros((4, 4), np.uint8)
    expected[0, :2] = 1  # eyes belong to the head
    expected[3, 3] = 4  # hands to lower arms
    np.testing.assert_array_equal(target, expected)
    objects = objects[:, :1]
    sio.savemat(path, dict(anno=dict(imname='x', objects=objects)))
    assert load_human_parts(path) is None


def _results():
    rng = np.random.default_rng(0)
    normals = rng.normal(size=(6, 8, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    normals[0, 0] = 255
    return dict(img=rng.integers(0, 255, (6, 8, 3), dtype=np.uint8),
                gt_semseg=np.arange(48, dtype=np.uint8).reshape(6, 8),
                gt_normals=normals, loaded_tasks=['semseg', 'normals'],
                tasks=build_tasks(['semseg', 'normals']))


def test_flip_mirrors_targets_and_negates_normal_x():
    before = _results()
    after = MultiTaskRandomFlip(prob=1.0)(_results())
    np.testing.assert_array_equal(after['gt_semseg'],
                                  before['gt_semseg'][:, ::-1])
    flipped = before['gt_normals'][:, ::-1].copy()
    valid = np.all(flipped != 255, axis=-1)
    flipped[valid, 0] *= -1
    np.testing.assert_allclose(after['gt_normals'], flipped, atol=1e-6)


def test_crop_pads_with_each_targets_ignore_index():
    out = MultiTaskRandomCrop(crop_size=(10, 12))(_results())
    assert out['img'].shape == (10, 12, 3)
    assert out['gt_semseg'].shape == (10, 12)
    assert (out['gt_semseg'] == 255).sum() == 10 * 12 - 48
    assert np.all(out['gt_normals'][out['gt_semseg'] == 255] == 255)


def test_resize_keeps_labels_nearest_and_normals_unit():
    out = MultiTaskResize(scale=(16, 12))(_results())
    assert out['gt_semseg'].shape == (12, 16)
    assert set(np.unique(out['gt_semseg'])) <= set(range(48))
    valid = np.all(out['gt_normals'] != 255, axis=-1)
    np.testing.assert_allclose(
        np.linalg.norm(out['gt_normals'][valid], axis=-1), 1, atol=1e-5)


def test_rotation_by_zero_without_zoom_changes_nothing():
    out = MultiTaskRandomScaleRotate(angle_range=(0, 0),
                                     scale_range=(1, 1))(_results())
    np.testing.assert_array_equal(out['gt_semseg'], _results()['gt_semseg'])


def _copy(demo_root, tmp_path):
    root = str(tmp_path / 'PASCAL_MT')
    shutil.copytree(demo_root, root)
    return root


def test_missing_annotation_names_the_file_and_layout(demo_root, tmp_path):
    root = _copy(demo_root, tmp_path)
    os.remove(os.path.join(root, 'sal_distill', 'demo_train_00003.png'))
    with pytest.raises(ValueError, match='(?s)demo_train_00003.png does not '
                       'exist.*The layout:\nPASCAL_MT/'):
        build(root)


def test_split_id_without_image_names_both(demo_root, tmp_path):
    root = _copy(demo_root, tmp_path)
    with open(os.path.join(root, 'ImageSets', 'Context', 'train.txt'),
              'a') as f:
        f.write('ghost_id\n')
    with pytest.raises(ValueError, match='ghost_id.*train.txt'):
        build(root)


def test_label_of_the_wrong_size_names_the_file(demo_root, tmp_path):
    root = _copy(demo_root, tmp_path)
    bad = os.path.join(root, 'semseg', 'VOC12', 'demo_train_00000.png')
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(bad)
    with pytest.raises(ValueError, match='demo_train_00000.png.*size'):
        build(root)[0]


def test_corrupt_image_names_the_file(demo_root, tmp_path):
    root = _copy(demo_root, tmp_path)
    bad = os.path.join(root, 'JPEGImages', 'demo_train_00000.jpg')
    with open(bad, 'wb') as f:
        f.write(b'not a jpeg')
    with pytest.raises(Exception, match='demo_train_00000.jpg'):
        build(root)[0]


def test_loader_skips_unknown_tasks_early(demo_root):
    with pytest.raises(KeyError, match='depth'):
        build(demo_root, tasks=['depth'])
    with pytest.raises(KeyError, match='semantic'):
        build(demo_root, tasks=['semantic'])
