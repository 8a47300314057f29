"""The training transforms equal their plain reference
(tests/pipeline_reference.py): the image and label maps exactly, unit
vectors to interpolation tolerance, on random targets with invalid
regions, odd sizes and random draws."""
import cv2
import numpy as np
import pytest

import pipeline_reference as ref
from mmsquad.registry import TRANSFORMS
from mmsquad.tasks import build_tasks

TASKS = build_tasks(['semseg', 'sal', 'normals'])


def random_results(rng, h=61, w=83) -> dict:
    """An image with a label map, a saliency map and unit normals, each
    with ignored regions."""
    normals = rng.normal(size=(h, w, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    holes = rng.random((h, w)) < 0.2
    holes[h // 3:h // 2, w // 4:w // 2] = True
    normals[holes] = ref.IGNORE
    semseg = rng.integers(0, 21, (h, w)).astype(np.uint8)
    semseg[rng.random((h, w)) < 0.1] = ref.IGNORE
    sal = (rng.random((h, w)) < 0.5).astype(np.uint8)
    return dict(img=rng.integers(0, 256, (h, w, 3), np.uint8),
                gt_semseg=semseg, gt_sal=sal, gt_normals=normals,
                img_shape=(h, w), ori_shape=(h, w), tasks=TASKS,
                loaded_tasks=['semseg', 'sal', 'normals'])


def by_hand(results: dict, flip: bool, angle: float, zoom: float,
            size, smooth: str, border_fill: dict) -> dict:
    """The protocol's flip, scale+rotate and resize with the reference."""
    out = {k: results[k].copy() for k in ('img', 'gt_semseg', 'gt_sal',
                                          'gt_normals')}
    if flip:
        out['img'] = np.ascontiguousarray(out['img'][:, ::-1])
        for key in ('gt_semseg', 'gt_sal'):
            out[key] = np.ascontiguousarray(out[key][:, ::-1])
        out['gt_normals'] = ref.flip_unit_vectors(out['gt_normals'])
    h, w = out['img'].shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, zoom)
    warp = ref.affine(matrix, (w, h), smooth)
    out['img'] = warp(out['img'], smooth, 0)
    for key in ('gt_semseg', 'gt_sal'):
        out[key] = warp(out[key], 'nearest', border_fill[key])
    out['gt_normals'] = ref.rotate_unit_vectors(
        ref.warp_unit_vectors(out['gt_normals'], warp, 'bilinear'), angle)
    warp = ref.resize(size, smooth)
    out['img'] = warp(out['img'], smooth, 0)
    for key in ('gt_semseg', 'gt_sal'):
        out[key] = warp(out[key], 'nearest', 0)
    out['gt_normals'] = ref.warp_unit_vectors(out['gt_normals'], warp,
                                              'bilinear')
    return out


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('smooth', ['bicubic', 'bilinear'])
def test_the_protocol_transforms_equal_the_reference(seed, smooth):
    rng = np.random.default_rng(seed)
    results = random_results(rng, h=int(rng.integers(20, 70)),
                             w=int(rng.integers(20, 90)))
    size = (int(rng.integers(16, 96)), int(rng.integers(16, 96)))
    steps = [TRANSFORMS.build(cfg) for cfg in (
        dict(type='MultiTaskRandomFlip', prob=0.5),
        dict(type='MultiTaskRandomScaleRotate', angle_range=(-20, 20),
             scale_range=(0.75, 1.25), interpolation=smooth,
             border='background'),
        dict(type='MultiTaskResize', scale=size, keep_ratio=False,
             interpolation=smooth))]
    original = {k: v.copy() if isinstance(v, np.ndarray) else v
                for k, v in results.items()}
    np.random.seed(seed)
    for step in steps:
        results = step(results)
    expected = by_hand(original, results['flip'], results['rotate_angle'],
                       results['zoom'], size, smooth,
                       dict(gt_semseg=0, gt_sal=0))
    for key in ('img', 'gt_semseg', 'gt_sal'):
        np.testing.assert_array_equal(results[key], expected[key], key)
    normals, want = results['gt_normals'], expected['gt_normals']
    np.testing.assert_array_equal(normals == ref.IGNORE, want == ref.IGNORE)
    valid = want != ref.IGNORE
    np.testing.assert_allclose(normals[valid], want[valid], atol=2e-5)
    assert normals.dtype == np.float32


@pytest.mark.parametrize('mode', ['L', 'RGB', 'P', 'RGBA', 'I;16'])
@pytest.mark.parametrize('flag', ['unchanged', 'color', 'grayscale'])
def test_png_reading_equals_pillows_for_every_kind_of_png(mode, flag,
                                                          tmp_path):
    """8-bit grey and RGB PNGs read as stored go through OpenCV, every
    other one (palette, alpha, a conversion, 16-bit as stored) through
    pillow: the pixels are pillow's either way. (16-bit read as 8-bit: the
    next test.)"""
    if mode == 'I;16' and flag != 'unchanged':
        pytest.skip('pillow clips 16-bit grey levels to 8 bits')
    import mmcv
    from PIL import Image

    from mmsquad.datasets.transforms.loading import read_png
    from mmsquad.utils.image_files import STORED_ORDER
    rng = np.random.default_rng(0)
    if mode == 'I;16':
        image = Image.fromarray(rng.integers(0, 60000, (9, 13), np.uint16))
    else:
        base = rng.integers(0, 256, (9, 13, 4), np.uint8)
        image = Image.fromarray(base, 'RGBA').convert(mode)
    path = str(tmp_path / 'map.png')
    image.save(path)
    expected = mmcv.imread(path, flag=STORED_ORDER.get(flag, flag),
                           channel_order='rgb', backend='pillow')
    np.testing.assert_array_equal(read_png(path, flag), expected)


@pytest.mark.parametrize('channels', [1, 3, 4])
def test_sixteen_bit_pngs_read_as_eight_bit_are_scaled(channels, tmp_path):
    """A 16-bit level v * 257 reads as v, grey or colour (pillow clipped a
    grey one: every level above 255 became 255), and a 16-bit soft mask
    binarises at half its range."""
    from mmsquad.datasets.transforms.loading import (read_binary_png,
                                                     read_png)
    levels = np.arange(256, dtype=np.uint16).reshape(16, 16)
    stored = np.stack([levels, 255 - levels, levels // 2, 255 + 0 * levels],
                      axis=-1)[..., :channels].squeeze()
    path = str(tmp_path / 'map16.png')
    assert cv2.imwrite(path, stored * 257)  # OpenCV writes BGR(A)
    eight = stored.astype(np.uint8)
    rgb = (np.repeat(eight[..., None], 3, -1) if channels == 1
           else eight[..., 2::-1])
    np.testing.assert_array_equal(read_png(path, 'color'), rgb)
    grey = read_png(path, 'grayscale')
    if channels == 1:
        np.testing.assert_array_equal(grey, eight)
        np.testing.assert_array_equal(read_binary_png(path, {}),
                                      (eight >= 128).astype(np.uint8))
    else:
        np.testing.assert_array_equal(
            grey, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
