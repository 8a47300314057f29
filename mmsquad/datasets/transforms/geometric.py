"""Geometric transforms that keep every dense target aligned with the image.

Each target is warped with the interpolation its kind needs: nearest for
labels, binary maps and depth; bilinear and renormalisation for normals.
New pixels get the image fill value or the task's ignore value.
"""
from typing import Callable, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmsquad.registry import TRANSFORMS
from mmsquad.structures import get_dense_task


def _normalise_normals(normals: np.ndarray, valid: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(normals, axis=-1, keepdims=True)
    normals = normals / np.maximum(norm, 1e-6)
    normals[~valid] = get_dense_task('normals').ignore_value
    return normals.astype(np.float32)


def warp_targets(results: dict,
                 warp: Callable[[np.ndarray, str, float], np.ndarray]
                 ) -> None:
    """Apply ``warp(array, interpolation, fill)`` to every dense target.

    Normals are warped bilinearly on their valid pixels and renormalised;
    their validity mask is warped with nearest interpolation.
    """
    for task in results.get('dense_tasks', []):
        info = get_dense_task(task)
        key = f'gt_{task}'
        target = results[key]
        if info.kind == 'vector':
            valid = np.all(target != info.ignore_value, axis=-1)
            zeroed = np.where(valid[..., None], target, 0).astype(np.float32)
            warped = warp(zeroed, 'bilinear', 0)
            valid = warp(valid.astype(np.uint8), 'nearest', 0).astype(bool)
            results[key] = _normalise_normals(warped, valid)
        else:
            results[key] = warp(target, 'nearest', info.ignore_value)


@TRANSFORMS.register_module()
class MultiTaskResize(BaseTransform):
    """Resize the image (bilinear) and every target to ``scale``.

    Args:
        scale: Target ``(w, h)``; with ``keep_ratio`` the largest size that
            fits in it.
        keep_ratio: Keep the aspect ratio.
    """

    def __init__(self, scale: Tuple[int, int], keep_ratio: bool = False
                 ) -> None:
        self.scale = tuple(scale)
        self.keep_ratio = keep_ratio

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        if self.keep_ratio:
            new_w, new_h = mmcv.rescale_size((w, h), self.scale)
        else:
            new_w, new_h = self.scale
        return resize_all(results, (new_w, new_h))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'keep_ratio={self.keep_ratio})')


def resize_all(results: dict, size: Tuple[int, int]) -> dict:
    """Resize image and targets to ``size`` = (w, h); record the scale."""
    h, w = results['img'].shape[:2]
    results['img'] = mmcv.imresize(results['img'], size,
                                   interpolation='bilinear')
    warp_targets(results, lambda a, interp, fill: mmcv.imresize(
        a, size, interpolation=interp))
    results['img_shape'] = results['img'].shape[:2]
    previous = np.array(results.get('scale_factor', (1.0, 1.0)))
    results['scale_factor'] = tuple(previous * np.array(
        (size[0] / w, size[1] / h)))
    return results


@TRANSFORMS.register_module()
class MultiTaskRandomScale(BaseTransform):
    """Rescale by a factor drawn uniformly from ``ratio_range``.

    Args:
        ratio_range: ``(min, max)`` scale factors.
    """

    def __init__(self, ratio_range: Tuple[float, float] = (0.75, 1.25)
                 ) -> None:
        self.ratio_range = tuple(ratio_range)

    def transform(self, results: dict) -> dict:
        ratio = np.random.uniform(*self.ratio_range)
        h, w = results['img'].shape[:2]
        return resize_all(results, (max(1, round(w * ratio)),
                                    max(1, round(h * ratio))))


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(BaseTransform):
    """Crop ``crop_size`` at a random place, padding smaller inputs first.

    Args:
        crop_size: ``(h, w)`` of the crop.
        img_pad_val: Image fill value; targets use their ignore value.
    """

    def __init__(self, crop_size: Tuple[int, int], img_pad_val: float = 0
                 ) -> None:
        self.crop_size = tuple(crop_size)
        self.img_pad_val = img_pad_val

    def transform(self, results: dict) -> dict:
        ch, cw = self.crop_size
        h, w = results['img'].shape[:2]
        pad_h, pad_w = max(ch - h, 0), max(cw - w, 0)
        if pad_h or pad_w:
            def pad(a: np.ndarray, fill: float) -> np.ndarray:
                widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (a.ndim - 2)
                return np.pad(a, widths, constant_values=fill)
            results['img'] = pad(results['img'], self.img_pad_val)
            warp_targets(results, lambda a, interp, fill: pad(a, fill))
            h, w = h + pad_h, w + pad_w
        top = np.random.randint(0, h - ch + 1)
        left = np.random.randint(0, w - cw + 1)
        results['img'] = results['img'][top:top + ch, left:left + cw]
        warp_targets(results, lambda a, interp, fill:
                     a[top:top + ch, left:left + cw])
        results['img_shape'] = results['img'].shape[:2]
        return results


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(BaseTransform):
    """Horizontal flip with probability ``prob``; normals' x is negated.

    Args:
        prob: Flip probability.
    """

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        flip = np.random.rand() < self.prob
        results['flip'] = flip
        results['flip_direction'] = 'horizontal' if flip else None
        if not flip:
            return results
        results['img'] = mmcv.imflip(results['img'], 'horizontal')
        warp_targets(results, lambda a, interp, fill:
                     np.ascontiguousarray(a[:, ::-1]))
        if 'gt_normals' in results:
            normals = results['gt_normals']
            valid = np.all(normals != get_dense_task('normals').ignore_value,
                           axis=-1)
            normals[valid, 0] *= -1
        return results


@TRANSFORMS.register_module()
class MultiTaskRandomRotate(BaseTransform):
    """Rotate about the centre by an angle in ``[-max_angle, max_angle]``.

    Normals rotate with the image (their x, y components, taken in image
    axes: x to the right, y down).

    Args:
        max_angle: Largest rotation in degrees.
        prob: Probability of rotating.
        img_pad_val: Image fill value; targets use their ignore value.
    """

    def __init__(self, max_angle: float = 10, prob: float = 0.5,
                 img_pad_val: float = 0) -> None:
        self.max_angle = max_angle
        self.prob = prob
        self.img_pad_val = img_pad_val

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        angle = np.random.uniform(-self.max_angle, self.max_angle)
        h, w = results['img'].shape[:2]
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle,
                                         1.0)
        flags = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR}

        def rotate(a: np.ndarray, interp: str, fill: float) -> np.ndarray:
            channels = a.shape[2] if a.ndim == 3 else 1
            return cv2.warpAffine(
                a, matrix, (w, h), flags=flags[interp],
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(fill, ) * channels)

        results['img'] = rotate(results['img'], 'bilinear', self.img_pad_val)
        warp_targets(results, rotate)
        if 'gt_normals' in results:
            # Image y points down: a counter-clockwise image rotation by
            # `angle` turns (x, y) vectors by -angle in image coordinates.
            normals = results['gt_normals']
            valid = np.all(normals != get_dense_task('normals').ignore_value,
                           axis=-1)
            theta = np.deg2rad(angle)
            c, s = np.cos(theta), np.sin(theta)
            x, y = normals[valid, 0].copy(), normals[valid, 1].copy()
            normals[valid, 0] = c * x + s * y
            normals[valid, 1] = -s * x + c * y
        return results
