"""Geometric transforms that keep every dense target aligned with the image.

Each target is warped as its task kind says (:meth:`DenseMapTask.warp`:
nearest for labels, binary maps and scalars; smooth interpolation over the
valid pixels, and renormalisation, for unit vectors); new pixels get the
kind's ignore (or background) value; flips and rotations also change the
values of kinds that need it (unit vectors), zooms those of distances
(depth), and every resampling those in pixel units.
"""
from typing import Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmsquad.registry import TRANSFORMS
from mmsquad.tasks.base_task import Warp
from .targets import loaded_targets, record_aligned

#: cv2 flags of mmcv's interpolation names.
CV2_INTERPOLATION = {'nearest': cv2.INTER_NEAREST,
                     'bilinear': cv2.INTER_LINEAR,
                     'bicubic': cv2.INTER_CUBIC}


def warp_targets(results: dict, warp: Warp, border: str = 'ignore') -> None:
    """Apply ``warp(array, interpolation, fill)`` to every dense target as
    its kind warps it (``border``: see :meth:`DenseMapTask.warp`)."""
    for key, kind in loaded_targets(results):
        results[key] = kind.warp(results[key], warp, border)


def zoom_targets(results: dict, zoom: float) -> None:
    """Change the values of every target as a zoom by ``zoom`` changes them
    (distances are divided by it)."""
    for key, kind in loaded_targets(results):
        results[key] = kind.zoom_values(results[key], zoom)


def rescale_targets(results: dict, scale: float) -> None:
    """Change the values of every target as resampling the image by
    ``scale`` changes them (lengths in pixels are multiplied by it)."""
    for key, kind in loaded_targets(results):
        results[key] = kind.rescale_values(results[key], scale)


def smooth(interpolation: str, smooth_interpolation: str) -> str:
    """A kind's interpolation with its smooth one (``'bilinear'``) replaced
    by the transform's ``smooth_interpolation``; nearest stays nearest."""
    return 'nearest' if interpolation == 'nearest' else smooth_interpolation


class TargetsTransform(BaseTransform):
    """A transform that moves every loaded target with the image: after it
    the targets are aligned with the image as it is, which
    :class:`PackMultiTaskInputs` checks that no other transform changed."""

    def __call__(self, results: dict) -> Optional[dict]:
        results = super().__call__(results)
        if results is not None:
            record_aligned(results)
        return results


def _checked_interpolation(name: str) -> str:
    if name not in CV2_INTERPOLATION:
        raise ValueError(f'interpolation must be one of '
                         f'{sorted(CV2_INTERPOLATION)}, got {name!r}')
    return name


@TRANSFORMS.register_module()
class MultiTaskResize(TargetsTransform):
    """Resize the image and every target to ``scale``.

    A resolution change, not a zoom: distances from the camera keep their
    values; values in pixel units scale with the image.

    Args:
        scale: Target ``(w, h)``; with ``keep_ratio`` the largest size that
            fits in it.
        keep_ratio: Keep the aspect ratio.
        interpolation: Of the image and of the smoothly interpolated
            targets (unit vectors): ``'bilinear'`` or ``'bicubic'`` (the
            published multi-task benchmarks); label-like targets use
            nearest.
    """

    def __init__(self, scale: Tuple[int, int], keep_ratio: bool = False,
                 interpolation: str = 'bilinear') -> None:
        self.scale = tuple(scale)
        self.keep_ratio = keep_ratio
        self.interpolation = _checked_interpolation(interpolation)

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        if self.keep_ratio:
            new_w, new_h = mmcv.rescale_size((w, h), self.scale)
        else:
            new_w, new_h = self.scale
        return resize_all(results, (new_w, new_h), self.interpolation)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'keep_ratio={self.keep_ratio}, '
                f'interpolation={self.interpolation!r})')


def resize_all(results: dict, size: Tuple[int, int],
               interpolation: str = 'bilinear') -> dict:
    """Resize image and targets to ``size`` = (w, h), values in pixel
    units by the geometric mean of the two scales; record the scale."""
    h, w = results['img'].shape[:2]
    results['img'] = mmcv.imresize(results['img'], size,
                                   interpolation=interpolation)
    warp_targets(results, lambda a, interp, fill: mmcv.imresize(
        a, size, interpolation=smooth(interp, interpolation)))
    rescale_targets(results, np.sqrt(size[0] * size[1] / (w * h)))
    results['img_shape'] = results['img'].shape[:2]
    previous = np.array(results.get('scale_factor', (1.0, 1.0)))
    results['scale_factor'] = tuple(previous * np.array(
        (size[0] / w, size[1] / h)))
    return results


@TRANSFORMS.register_module()
class MultiTaskRandomScale(TargetsTransform):
    """Rescale by a factor drawn uniformly from ``ratio_range``, a zoom:
    distance targets (depth) are divided by the factor.

    Args:
        ratio_range: ``(min, max)`` scale factors.
        interpolation: Of the image and of smooth targets (see
            :class:`MultiTaskResize`).
    """

    def __init__(self, ratio_range: Tuple[float, float] = (0.75, 1.25),
                 interpolation: str = 'bilinear') -> None:
        self.ratio_range = tuple(ratio_range)
        self.interpolation = _checked_interpolation(interpolation)

    def transform(self, results: dict) -> dict:
        ratio = np.random.uniform(*self.ratio_range)
        h, w = results['img'].shape[:2]
        new_w, new_h = max(1, round(w * ratio)), max(1, round(h * ratio))
        resize_all(results, (new_w, new_h), self.interpolation)
        zoom_targets(results, np.sqrt(new_w * new_h / (w * h)))
        return results


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(TargetsTransform):
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
class MultiTaskRandomFlip(TargetsTransform):
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
        results['img'] = flip_horizontal(results['img'])
        # A mirror moves pixels without resampling them: every kind's
        # target is mirrored as it is (no validity handling to do).
        for key, kind in loaded_targets(results):
            results[key] = kind.flip_values(flip_horizontal(results[key]))
        return results


def flip_horizontal(array: np.ndarray) -> np.ndarray:
    """``array`` mirrored left-right, contiguous (OpenCV's flip, several
    times numpy's reversed copy; numpy for what OpenCV does not take)."""
    try:
        return _channels_like(cv2.flip(array, 1), array)
    except cv2.error:
        return np.ascontiguousarray(array[:, ::-1])


def _channels_like(out: np.ndarray, array: np.ndarray) -> np.ndarray:
    """OpenCV's output with the channel axis of one that it drops
    restored."""
    return out[..., None] if array.ndim == 3 and out.ndim == 2 else out


@TRANSFORMS.register_module()
class MultiTaskRandomScaleRotate(TargetsTransform):
    """Rotate and zoom together about the image centre, on a canvas of the
    original size: a zoom in crops, a zoom out leaves a border (the
    published multi-task benchmarks' ``ScaleNRotate``).

    Every image is transformed; the angle and the scale are drawn
    uniformly from their ranges, or the scale from ``scale_choices``.
    Unit vectors rotate with the image; distances (depth) are divided by
    the scale. New border pixels get ``img_pad_val`` in the image and, in
    the targets, the kind's background value (``border='background'``:
    0 for the background class of PASCAL's label maps and saliency, as
    published) or its ignore value (``border='ignore'``).

    Args:
        angle_range: ``(min, max)`` rotation in degrees (counter-clockwise).
        scale_range: ``(min, max)`` zoom factor.
        scale_choices: Zoom factors to draw from instead of
            ``scale_range`` (NYUD-v2: ``(1.0, 1.2, 1.5)``).
        interpolation: Of the image and of smooth targets (unit vectors):
            ``'bicubic'`` as published, or ``'bilinear'``.
        border: Fill of new target pixels: ``'background'`` or
            ``'ignore'``.
        img_pad_val: Image fill value.

    Example:
        >>> t = MultiTaskRandomScaleRotate(angle_range=(-20, 20),
        ...                                scale_range=(0.75, 1.25))
    """

    def __init__(self,
                 angle_range: Tuple[float, float] = (-20, 20),
                 scale_range: Tuple[float, float] = (0.75, 1.25),
                 scale_choices: Optional[Sequence[float]] = None,
                 interpolation: str = 'bicubic',
                 border: str = 'background',
                 img_pad_val: float = 0) -> None:
        if border not in ('background', 'ignore'):
            raise ValueError(f"border must be 'background' or 'ignore', got "
                             f'{border!r}')
        self.angle_range = tuple(angle_range)
        self.scale_range = tuple(scale_range)
        self.scale_choices = None if scale_choices is None else \
            tuple(scale_choices)
        self.interpolation = _checked_interpolation(interpolation)
        self.border = border
        self.img_pad_val = img_pad_val

    def draw(self) -> Tuple[float, float]:
        """A random ``(angle, scale)``."""
        angle = np.random.uniform(*self.angle_range)
        scale = np.random.choice(self.scale_choices) \
            if self.scale_choices else np.random.uniform(*self.scale_range)
        return float(angle), float(scale)

    def transform(self, results: dict) -> dict:
        angle, scale = self.draw()
        h, w = results['img'].shape[:2]
        # The published centre (w / 2, h / 2), not the pixel grid's.
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)

        def warp(a: np.ndarray, interp: str, fill: float) -> np.ndarray:
            channels = a.shape[2] if a.ndim == 3 else 1
            flags = CV2_INTERPOLATION[smooth(interp, self.interpolation)]
            return cv2.warpAffine(a, matrix, (w, h), flags=flags,
                                  borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=(fill, ) * channels)

        results['img'] = warp(results['img'], self.interpolation,
                              self.img_pad_val)
        warp_targets(results, warp, self.border)
        for key, kind in loaded_targets(results):
            results[key] = kind.rotate_values(results[key], angle)
        zoom_targets(results, scale)
        rescale_targets(results, scale)
        results['rotate_angle'] = angle
        results['zoom'] = scale
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(angle_range={self.angle_range}, '
                f'scale_range={self.scale_range}, '
                f'scale_choices={self.scale_choices}, '
                f'interpolation={self.interpolation!r}, '
                f'border={self.border!r})')
