"""Per-pixel unit vectors (surface normals)."""
from typing import Dict, List, Optional

import numpy as np
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from mmsquad.functional import fill_pixels
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
        warped, valid = self.warp_valid_pixels(target, warp,
                                               normalise=False)
        warped /= np.maximum(_lengths(warped), 1e-6)[..., None]
        return fill_pixels(warped, ~valid, self.ignore_index)

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
        np.negative(x, out=x, where=self.valid_pixels(target))
        return target

    def rotate_values(self, target: np.ndarray, angle: float) -> np.ndarray:
        # Image y points down: a counter-clockwise image rotation by
        # `angle` turns (x, y) vectors by -angle in image coordinates.
        valid = self.valid_pixels(target)
        theta = np.deg2rad(angle)
        c, s = np.cos(theta), np.sin(theta)
        x, y = target[..., 0].copy(), target[..., 1].copy()
        np.copyto(target[..., 0], c * x + s * y, where=valid,
                  casting='same_kind')
        np.copyto(target[..., 1], -s * x + c * y, where=valid,
                  casting='same_kind')
        return target

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
    """The (H, W) lengths of (H, W, C) vectors (channel by channel: numpy
    reduces a short last axis slowly)."""
    total = np.square(vectors[..., 0])
    for channel in range(1, vectors.shape[-1]):
        total += np.square(vectors[..., channel])
    return np.sqrt(total)
