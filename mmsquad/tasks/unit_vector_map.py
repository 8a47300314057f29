"""Per-pixel unit vectors (surface normals)."""
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from mmsquad.functional import fill_pixels, keep_pixels
from mmsquad.functional.dense_stats import AngleAccumulator, normal_angles
from mmsquad.registry import TASKS
from .base_task import IGNORE_INDEX, DenseMapTask, Warp, bad_values


@TASKS.register_module()
class UnitVectorTask(DenseMapTask):
    """A map of unit vectors in image axes (x right, y down); metrics: the
    mean, median and RMS angle error and the % of pixels within 11.25,
    22.5 and 30 degrees, pooled over every valid pixel of the set.

    Geometric transforms warp the vectors bilinearly and renormalise them;
    a flip negates x, a rotation turns (x, y). Ignored pixels hold
    ``ignore_index`` in every channel.

    Args:
        channels: Vector dimension.
        ignore_index: Value of ignored pixels.
        name: The task's name.
    """

    metric_keys = ('mean', 'median', 'rmse', '11.25', '22.5', '30')
    #: How far from 1 the length of a valid target vector may be (vectors
    #: quantised to 8 bits are within 0.01).
    length_tolerance = 0.1
    lower_is_better = frozenset(('mean', 'median', 'rmse'))
    interpolation = 'bilinear'

    def __init__(self, channels: int = 3,
                 ignore_index: float = IGNORE_INDEX,
                 name: Optional[str] = None) -> None:
        super().__init__(name, ignore_index=ignore_index)
        self.channels = channels

    @property
    def default_loss(self) -> dict:
        return dict(type='NormalsL1Loss', ignore_index=self.ignore_index)

    def warp(self, target: np.ndarray, warp: Warp,
             border: str = 'ignore') -> np.ndarray:
        """Warp valid vectors smoothly (the validity mask with nearest),
        then renormalise; new pixels are ignored whatever ``border``."""
        valid = self.vector_mask(target)
        warped = warp(keep_pixels(target, valid != 0), self.interpolation, 0)
        kept = warp(valid, 'nearest', 0)
        warped /= np.maximum(_lengths(warped), 1e-6)[..., None]
        return fill_pixels(warped, kept == 0, self.ignore_index)

    def vector_mask(self, target: np.ndarray) -> np.ndarray:
        """(H, W) uint8 mask, 255 where a checked target (see
        :meth:`target_problem`) holds a vector, 0 where it is ignored.

        A valid vector's components lie within ``1 + length_tolerance``
        of 0: where ``ignore_index`` lies outside that range, one OpenCV
        range check over the channels finds the vectors (equal to
        :meth:`valid_pixels` on checked targets, in one pass instead of
        one per channel)."""
        limit = 1 + self.length_tolerance
        channels = target.shape[2]
        if abs(self.ignore_index) > limit and channels <= 4 and \
                target.dtype == np.float32:
            return cv2.inRange(target, (-limit, ) * channels,
                               (limit, ) * channels)
        return self.valid_pixels(target).view(np.uint8) * np.uint8(255)

    def target_problem(self, target: np.ndarray) -> Optional[str]:
        """(H, W, channels); valid vectors (no channel at ``ignore_index``)
        finite and of length 1 within :attr:`length_tolerance`."""
        if target.ndim != 3 or target.shape[2] != self.channels:
            return (f'a map of {self.channels}-vectors is (H, W, '
                    f'{self.channels}); got shape {target.shape}')
        length = _lengths(target.astype(np.float32, copy=False))
        bad = ~(np.abs(length - 1) <= self.length_tolerance)
        bad &= self.valid_pixels(target)
        if not bad.any():
            return None
        return bad_values(np.round(length, 3), bad, 'unit vectors (length '
                          f'1 +- {self.length_tolerance}) or the ignore '
                          f'value {self.ignore_index}; lengths shown')

    def flip_values(self, target: np.ndarray) -> np.ndarray:
        x = target[..., 0]
        np.negative(x, out=x, where=self.vector_mask(target) != 0)
        return target

    def rotate_values(self, target: np.ndarray, angle: float) -> np.ndarray:
        # Image y points down: a counter-clockwise image rotation by
        # `angle` turns (x, y) vectors by -angle in image coordinates.
        valid = self.vector_mask(target)
        theta = np.deg2rad(angle)
        c, s = np.cos(theta), np.sin(theta)
        matrix = np.eye(target.shape[2], dtype=np.float64)
        matrix[:2, :2] = ((c, s), (-s, c))
        try:  # one pass of OpenCV's per-pixel matrix (up to 4 channels)
            rotated = cv2.transform(target, matrix).reshape(target.shape)
        except cv2.error:
            rotated = (target.reshape(-1, target.shape[2]) @ matrix.T
                       ).reshape(target.shape).astype(target.dtype)
        return fill_pixels(rotated, valid == 0, self.ignore_index)

    def activate(self, logits: Tensor) -> Tensor:
        return F.normalize(logits, p=2, dim=1)

    def finalize(self, output: Tensor) -> PixelData:
        return PixelData(data=F.normalize(output, p=2, dim=0))

    def sample_stats(self, pred: np.ndarray,
                     gt: np.ndarray) -> AngleAccumulator:
        angles = AngleAccumulator()
        angles.add(normal_angles(pred, gt, self.ignore_index))
        return angles

    def summarize(self, stats: List[AngleAccumulator]) -> Dict[str, float]:
        total = AngleAccumulator()
        for angles in stats:
            total.merge(angles)
        return total.metrics()

    def best_constant(self, values: np.ndarray) -> np.ndarray:
        """The normalised mean vector."""
        mean = values.mean(axis=1)
        return mean / np.linalg.norm(mean)

    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        """(x, y, z) in [-1, 1] as RGB (ignored pixels black)."""
        valid = self.valid_mask(data)
        rgb = ((data[:3].transpose(1, 2, 0) + 1) / 2 * 255).clip(0, 255)
        return np.where(valid[..., None], rgb, 0).astype(np.uint8)


def _lengths(vectors: np.ndarray) -> np.ndarray:
    """The (H, W) lengths of (H, W, C) vectors: OpenCV's per-pixel sum of
    the squares for float32 (up to 4 channels), else channel by channel
    (numpy reduces a short last axis slowly)."""
    channels = vectors.shape[-1]
    if vectors.dtype == np.float32 and vectors.ndim == 3 and channels <= 4:
        squares = cv2.transform(cv2.multiply(vectors, vectors),
                                np.ones((1, channels), np.float32))
        return cv2.sqrt(squares).reshape(vectors.shape[:2])
    total = np.square(vectors[..., 0])
    for channel in range(1, vectors.shape[-1]):
        total += np.square(vectors[..., channel])
    return np.sqrt(total)
