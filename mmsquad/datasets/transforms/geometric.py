"""Geometric transforms that keep every dense target aligned with the image.

Each target is warped as its task kind says (:meth:`DenseMapTask.warp`:
nearest for labels, binary maps and scalars; bilinear and renormalisation
for unit vectors); new pixels get the image fill value or the kind's pad
value; flips and rotations also change the values of kinds that need it
(unit vectors).
"""
from typing import Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmsquad.registry import TRANSFORMS
from mmsquad.tasks.base_task import Warp
from .targets import loaded_targets


def warp_targets(results: dict, warp: Warp) -> None:
    """Apply ``warp(array, interpolation, fill)`` to every dense target as
    its kind warps it."""
    for key, kind in loaded_targets(results):
        results[key] = kind.warp(results[key], warp)


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
    """Horizontal flip with probability ``prob``; unit vectors' x is
    negated.

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
        for key, kind in loaded_targets(results):
            results[key] = kind.flip_values(results[key])
        return results


@TRANSFORMS.register_module()
class MultiTaskRandomRotate(BaseTransform):
    """Rotate about the centre by an angle in ``[-max_angle, max_angle]``.

    Unit vectors rotate with the image (their x, y components, taken in
    image axes: x to the right, y down).

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
        for key, kind in loaded_targets(results):
            results[key] = kind.rotate_values(results[key], angle)
        return results
