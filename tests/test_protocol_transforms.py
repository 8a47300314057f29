"""The published protocols' transforms and prediction restoring, each
against an independent reference: OpenCV calls with hand-built affine
matrices, hand-computed vectors and values, numpy."""
import cv2
import numpy as np
import pytest
import torch

from mmsquad.datasets.transforms import (MultiTaskRandomFlip,
                                         MultiTaskRandomScale,
                                         MultiTaskRandomScaleRotate,
                                         MultiTaskResize)
from mmsquad.functional.dense_stats import saliency_metrics, saliency_stats
from mmsquad.registry import TRANSFORMS
from mmsquad.tasks import build_task, build_tasks

H, W = 40, 56
TASKS = ['semseg', 'sal', 'normals', 'depth']


def _scene(normal=(0.6, 0.0, 0.8)):
    """An image and targets without background inside, so that border
    values show; a uniform normal field; depth a plane rising to the
    right."""
    rng = np.random.default_rng(0)
    depth = np.tile(1 + np.arange(W, dtype=np.float32) / W, (H, 1))
    return dict(
        img=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        gt_semseg=rng.integers(1, 21, (H, W)).astype(np.uint8),
        gt_sal=np.ones((H, W), np.uint8),
        gt_normals=np.broadcast_to(np.float32(normal), (H, W, 3)).copy(),
        gt_depth=depth, loaded_tasks=list(TASKS), tasks=build_tasks(TASKS))


def _fixed(transform, angle, scale):
    """``transform`` with its random draw fixed."""
    transform.draw = lambda: (angle, scale)
    return transform


def _affine(angle, scale):
    """The rotation-and-zoom matrix about (w / 2, h / 2), written out from
    OpenCV's documented formula."""
    theta = np.deg2rad(angle)
    a, b = scale * np.cos(theta), scale * np.sin(theta)
    cx, cy = W / 2, H / 2
    return np.array([[a, b, (1 - a) * cx - b * cy],
                     [-b, a, b * cx + (1 - a) * cy]])


def _warp(array, matrix, flags, fill):
    channels = array.shape[2] if array.ndim == 3 else 1
    return cv2.warpAffine(array, matrix, (W, H), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(fill, ) * channels)


@pytest.mark.parametrize('angle,scale', [(17.0, 1.2), (-20.0, 0.75),
                                         (8.5, 1.0)])
def test_scale_rotate_matches_opencv_with_the_published_matrix(angle, scale):
    out = _fixed(MultiTaskRandomScaleRotate(), angle, scale)(_scene())
    matrix = _affine(angle, scale)
    scene = _scene()
    np.testing.assert_array_equal(
        out['img'], _warp(scene['img'], matrix, cv2.INTER_CUBIC, 0))
    np.testing.assert_array_equal(
        out['gt_semseg'],
        _warp(scene['gt_semseg'], matrix, cv2.INTER_NEAREST, 0))
    np.testing.assert_array_equal(
        out['gt_sal'], _warp(scene['gt_sal'], matrix, cv2.INTER_NEAREST, 0))
    # Depth: warped nearest, divided by the zoom; the border is ignored.
    depth = _warp(scene['gt_depth'], matrix, cv2.INTER_NEAREST, 255)
    valid = depth != 255
    np.testing.assert_allclose(out['gt_depth'][valid], depth[valid] / scale,
                               rtol=1e-6)
    np.testing.assert_array_equal(out['gt_depth'] == 255, ~valid)


@pytest.mark.parametrize('angle', [90.0, 30.0, -45.0])
def test_normals_turn_with_the_image(angle):
    """A uniform field: after a counter-clockwise rotation of the image by
    ``angle`` its in-plane direction turns counter-clockwise by ``angle``
    as seen on screen (computed with y up, then back to image axes)."""
    out = _fixed(MultiTaskRandomScaleRotate(), angle, 1.0)(_scene(
        normal=(0.48, 0.36, 0.8)))
    theta = np.deg2rad(angle)
    on_screen = np.arctan2(-0.36, 0.48) + theta  # y up: (0.48, -0.36)
    expected = np.float32([0.6 * np.cos(on_screen),
                           -0.6 * np.sin(on_screen), 0.8])
    inside = out['gt_normals'][H // 2 - 5:H // 2 + 5, W // 2 - 5:W // 2 + 5]
    np.testing.assert_allclose(inside.reshape(-1, 3),
                               np.broadcast_to(expected, (100, 3)),
                               atol=1e-5)


def test_flip_then_rotate_keeps_vectors_and_image_consistent():
    """Flip (x negated), then a 90 degree turn: (0.6, 0, 0.8) -> (-0.6, 0,
    0.8) -> (0, 0.6, 0.8), pointing down."""
    scene = MultiTaskRandomFlip(prob=1.0)(_scene())
    out = _fixed(MultiTaskRandomScaleRotate(), 90.0, 1.0)(scene)
    np.testing.assert_allclose(out['gt_normals'][H // 2, W // 2],
                               [0.0, 0.6, 0.8], atol=1e-6)


def test_zoom_out_border_is_background_for_labels_and_ignored_for_vectors():
    out = _fixed(MultiTaskRandomScaleRotate(), 0.0, 0.5)(_scene())
    corner = (slice(0, 5), slice(0, 5))
    assert (out['img'][corner] == 0).all()
    assert (out['gt_semseg'][corner] == 0).all()
    assert (out['gt_sal'][corner] == 0).all()
    assert (out['gt_normals'][corner] == 255).all()
    assert (out['gt_depth'][corner] == 255).all()
    ignored = _fixed(MultiTaskRandomScaleRotate(border='ignore'), 0.0,
                     0.5)(_scene())
    assert (ignored['gt_semseg'][corner] == 255).all()
    assert (ignored['gt_sal'][corner] == 255).all()


def test_label_maps_without_a_background_class_get_ignore_borders():
    scene = _scene()
    scene['tasks'] = dict(scene['tasks'], semseg=build_task(
        'semseg', dict(type='LabelMapTask', num_classes=40)))
    out = _fixed(MultiTaskRandomScaleRotate(), 0.0, 0.5)(scene)
    assert (out['gt_semseg'][:5, :5] == 255).all()


def test_a_plane_seen_1_5_times_closer_after_a_1_5x_zoom():
    """NYUD-v2's zoom: a plane at depth 1 + x / W, zoomed 1.5x about the
    centre, shows at pixel x the point (x - W/2) / 1.5 + W/2 of the
    original, at 1/1.5 of its depth."""
    transform = TRANSFORMS.build(dict(
        type='MultiTaskRandomScaleRotate', angle_range=(0, 0),
        scale_choices=(1.5, ), interpolation='bicubic', border='ignore'))
    out = transform(_scene())
    x = np.arange(W)
    source = np.floor((x - W / 2) / 1.5 + W / 2 + 0.5)
    expected = (1 + source / W) / 1.5
    np.testing.assert_allclose(out['gt_depth'][H // 2], expected, atol=1e-6)
    assert out['zoom'] == 1.5


def test_random_scale_divides_depth_by_its_factor():
    out = MultiTaskRandomScale(ratio_range=(1.5, 1.5))(_scene())
    assert out['gt_depth'].shape == (60, 84)
    reference = cv2.resize(_scene()['gt_depth'], (84, 60),
                           interpolation=cv2.INTER_NEAREST) / 1.5
    np.testing.assert_allclose(out['gt_depth'], reference, rtol=1e-6)


def test_stretch_resize_matches_opencv():
    """The published test-time and final training resize: to exactly
    (w, h) whatever the aspect, bicubic image, nearest labels, bicubic
    normals renormalised; depth unchanged (a resolution change, no
    zoom)."""
    scene = _scene()
    rng = np.random.default_rng(1)
    normals = rng.normal(size=(H, W, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    scene['gt_normals'] = normals.copy()
    out = MultiTaskResize(scale=(64, 64), keep_ratio=False,
                          interpolation='bicubic')(scene)
    np.testing.assert_array_equal(
        out['img'], cv2.resize(_scene()['img'], (64, 64),
                               interpolation=cv2.INTER_CUBIC))
    np.testing.assert_array_equal(
        out['gt_semseg'], cv2.resize(_scene()['gt_semseg'], (64, 64),
                                     interpolation=cv2.INTER_NEAREST))
    cubic = cv2.resize(normals, (64, 64), interpolation=cv2.INTER_CUBIC)
    cubic /= np.linalg.norm(cubic, axis=-1, keepdims=True)
    np.testing.assert_allclose(out['gt_normals'], cubic, atol=1e-5)
    np.testing.assert_allclose(
        out['gt_depth'], cv2.resize(_scene()['gt_depth'], (64, 64),
                                    interpolation=cv2.INTER_NEAREST))


def test_labels_restored_as_published_and_as_mmseg():
    """'labels': the argmax at the network's size, then nearest (OpenCV);
    'scores': bilinear scores, then the argmax."""
    scores = torch.rand(5, 12, 16)
    published = build_task('semseg', dict(type='LabelMapTask', num_classes=5))
    labels = published.finalize_at(scores, (30, 37)).data[0].numpy()
    expected = cv2.resize(scores.argmax(0).numpy().astype(np.uint8),
                          (37, 30), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(labels, expected)
    mmseg_way = build_task('semseg', dict(type='LabelMapTask', num_classes=5,
                                          upsample='scores'))
    smooth = torch.nn.functional.interpolate(
        scores[None], size=(30, 37), mode='bilinear', align_corners=False)
    np.testing.assert_array_equal(
        mmseg_way.finalize_at(scores, (30, 37)).data[0].numpy(),
        smooth[0].argmax(0).numpy())
    assert not np.array_equal(labels, smooth[0].argmax(0).numpy())


def test_saliency_of_an_empty_image_predicted_empty():
    """The published evaluation counts IoU 1 for an empty target predicted
    empty at a threshold; the strict option counts 0."""
    gt = np.zeros((8, 8), np.int64)
    prob = np.zeros((8, 8), np.float32)
    published = saliency_metrics([saliency_stats(prob, gt)])
    strict = saliency_metrics([saliency_stats(prob, gt, empty_iou=0.0)])
    assert published['mIoU'] == 100.0 and strict['mIoU'] == 0.0
    sal = build_task('sal')
    assert sal.summarize([sal.sample_stats(prob[None], gt[None])])[
        'mIoU'] == 100.0


@pytest.mark.parametrize('steps, change', [
    ([dict(type='mmseg.RandomResize', scale=(64, 64), ratio_range=(2., 2.),
           keep_ratio=True)], 'changed the image from 32x32 to 128x128'),
    ([dict(type='mmseg.RandomFlip', prob=1.0)], 'mirrored the image'),
    ([dict(type='mmseg.RandomCrop', crop_size=(20, 24))],
     'changed the image from 32x32 to 20x24'),
    ([dict(type='mmseg.PhotoMetricDistortion')], None),
    ([dict(type='MultiTaskRandomFlip', prob=1.0),
      dict(type='MultiTaskResize', scale=(40, 24), keep_ratio=False),
      dict(type='mmseg.PhotoMetricDistortion')], None),
], ids=['mmseg-resize', 'mmseg-flip', 'mmseg-crop', 'photometric',
        'multitask'])
def test_another_packages_geometric_transform_is_refused(
        demo_root, steps, change):
    """mmseg's geometric transforms move the image (and the keys they
    know) but never the ``gt_<task>`` targets: refused at packing, naming
    the change (it trained on misaligned targets in silence); image-only
    and multi-task transforms pass, the targets aligned."""
    from mmsquad.registry import DATASETS
    dataset = DATASETS.build(dict(
        type='PascalContextMTDataset', data_root=demo_root, split='train',
        tasks=['semseg', 'normals'], pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadMultiTaskAnnotations'), *steps,
            dict(type='PackMultiTaskInputs')]))
    if change is None:
        packed = dataset[0]
        sample = packed['data_samples']
        for task in ('semseg', 'normals'):
            assert sample.get_target(task).shape == \
                tuple(packed['inputs'].shape[-2:])
        return
    with pytest.raises(ValueError, match=f'demo_train_00000.jpg: a '
                       f'transform after LoadMultiTaskAnnotations {change} '
                       r"without its targets \['semseg', 'normals'\]"):
        dataset[0]
