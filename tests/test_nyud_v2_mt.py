"""NYUDv2MTDataset on a hand-made archive in the NYUD_MT layout."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from mmsquad.registry import DATASETS


@pytest.fixture
def nyud_root(tmp_path):
    root = tmp_path / 'NYUD_MT'
    for sub in ('images', 'gt_sets', 'segmentation', 'depth', 'normals',
                'edge'):
        (root / sub).mkdir(parents=True)
    (root / 'gt_sets' / 'train.txt').write_text('0001\n')
    cv2.imwrite(str(root / 'images' / '0001.jpg'),
                np.full((4, 6, 3), 128, np.uint8))
    seg = np.array([[0, 1, 2, 40, 0, 5]] * 4, np.uint8)
    Image.fromarray(seg).save(root / 'segmentation' / '0001.png')
    depth = np.full((4, 6), 2.5, np.float32)
    depth[0, 0] = 0
    np.save(root / 'depth' / '0001.npy', depth)
    normals = np.zeros((4, 6, 3), np.float32)
    normals[..., 2] = -1
    normals[1, 1] = 0
    np.save(root / 'normals' / '0001.npy', normals)
    np.save(root / 'edge' / '0001.npy', np.eye(4, 6, dtype=np.float32))
    return str(root)


def build(root, tasks):
    return DATASETS.build(dict(
        type='NYUDv2MTDataset', data_root=root, split='train', tasks=tasks,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadMultiTaskAnnotations'),
                  dict(type='PackMultiTaskInputs')]))


def test_labels_are_shifted_and_invalid_values_ignored(nyud_root):
    semseg = dict(name='semseg', type='LabelMapTask', num_classes=40)
    sample = build(nyud_root, [semseg, 'depth', 'normals',
                               'edge'])[0]['data_samples']
    assert sample.gt_semseg.data[0, 0].tolist() == [255, 0, 1, 39, 255, 4]
    depth = sample.gt_depth.data[0]
    assert depth[0, 0] == 255 and depth[1, 1] == pytest.approx(2.5)
    assert (sample.gt_normals.data[:, 1, 1] == 255).all()
    assert sample.gt_normals.data[2, 0, 0] == -1
    assert sample.gt_edge.data[0].sum() == 4


def test_missing_depth_names_the_file(nyud_root):
    os.remove(os.path.join(nyud_root, 'depth', '0001.npy'))
    with pytest.raises(ValueError, match=r'depth/0001\.npy does not exist'):
        build(nyud_root, ['depth'])


def test_nyud_has_no_saliency(nyud_root):
    with pytest.raises(KeyError, match='sal'):
        build(nyud_root, ['sal'])
