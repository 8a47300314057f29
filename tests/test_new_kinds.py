"""What a new task kind and a new file format get without code in
mmsquad: warps that never blend fill values into smooth targets, for 2-D
and 3-D targets; values in pixel units that scale with the image; an
unregistered format named with the way to add one. (A kind and a reader
from a module of the user's own train and evaluate in docs/own_tasks.md,
which tests/test_docs.py runs.)"""
import numpy as np
import pytest
import torch

from mmsquad.datasets.transforms import (MultiTaskRandomScaleRotate,
                                         MultiTaskResize)
from mmsquad.registry import DATASETS
from mmsquad.tasks import ScalarMapTask


class SmoothScalar(ScalarMapTask):
    """A scalar map interpolated bilinearly (not registered: a kind only
    this test knows)."""

    interpolation = 'bilinear'


def results_with(task, target: np.ndarray) -> dict:
    h, w = target.shape[:2]
    return dict(img=np.zeros((h, w, 3), np.uint8), gt_x=target,
                loaded_tasks=['x'], tasks=dict(x=task), img_shape=(h, w))


def test_smooth_warps_never_blend_the_fill_into_values():
    """A map in [0, 0.5] with an ignored region, rotated and zoomed out:
    its valid values stay in [0, 0.5] (the fill, 255, blended in bilinearly
    would give values far above)."""
    task = SmoothScalar(name='x')
    rng = np.random.default_rng(0)
    target = rng.uniform(0, 0.5, (40, 48)).astype(np.float32)
    target[10:20, 5:30] = task.ignore_index
    transform = MultiTaskRandomScaleRotate(angle_range=(17, 17),
                                           scale_range=(0.8, 0.8),
                                           interpolation='bilinear')
    out = transform(results_with(task, target))['gt_x']
    valid = out != task.ignore_index
    assert valid.mean() > 0.3 and (~valid).any()
    assert out[valid].min() >= 0 and out[valid].max() <= 0.5 + 1e-6


def test_warp_valid_takes_2d_and_3d_targets():
    task = SmoothScalar(name='x')
    target = np.random.default_rng(1).uniform(1, 2, (12, 16)).astype(
        np.float32)
    target[:3] = task.ignore_index
    resize = MultiTaskResize(scale=(24, 20))
    flat = resize(results_with(task, target.copy()))['gt_x']
    deep = resize(results_with(task, target[..., None].copy()))['gt_x']
    assert flat.shape == (20, 24) and deep.shape == (20, 24, 1)
    np.testing.assert_array_equal(flat, deep[..., 0])


def test_pixel_units_scale_with_resize_zoom_and_prediction():
    task = ScalarMapTask(unit='px', name='x')
    target = np.full((10, 12), 3.0, np.float32)
    target[0, 0] = task.ignore_index
    doubled = MultiTaskResize(scale=(24, 20))(
        results_with(task, target.copy()))['gt_x']
    assert doubled[5, 5] == pytest.approx(6.0)
    assert doubled[0, 0] == task.ignore_index
    zoomed = MultiTaskRandomScaleRotate(angle_range=(0, 0),
                                        scale_range=(1.5, 1.5))(
        results_with(task, target.copy()))['gt_x']
    assert zoomed[5, 6] == pytest.approx(4.5)
    prediction = task.finalize_at(torch.full((1, 5, 6), 2.0), (10, 12))
    torch.testing.assert_close(prediction.data, torch.full((1, 10, 12),
                                                           4.0))
    depth = ScalarMapTask(unit='m', distance=True, name='x')
    kept = MultiTaskResize(scale=(24, 20))(
        results_with(depth, target.copy()))['gt_x']
    assert kept[5, 5] == pytest.approx(3.0)  # metres do not scale
    with pytest.raises(ValueError, match='distance=False'):
        ScalarMapTask(unit='px', distance=True)


def test_an_unregistered_format_is_named_with_the_way_to_add_one(demo_root):
    with pytest.raises(KeyError, match="'semseg'.*'my_format'.*"
                       'custom_imports'):
        DATASETS.build(dict(type='PascalContextMTDataset',
                            data_root=demo_root, tasks=['semseg'],
                            annotations=dict(semseg=('x/{id}.png',
                                                     'my_format'))))
