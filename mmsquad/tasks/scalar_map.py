"""Per-pixel positive scalars with a unit (depth in metres, ...)."""
from typing import Dict, List, Optional, Union

import cv2
import numpy as np
import torch
from torch import Tensor

from mmsquad.functional import heat_map
from mmsquad.functional.dense_stats import depth_errors
from mmsquad.registry import TASKS
from .base_task import IGNORE_INDEX, DenseMapTask, bad_values


#: The unit of values that are lengths in the image's pixels.
PIXELS = 'px'


@TASKS.register_module()
class ScalarMapTask(DenseMapTask):
    """A map of positive real values; metrics ``rmse`` (in ``unit``) and
    ``abs_rel`` over the valid pixels (not ``ignore_index``, above 0) of
    the whole set.

    Args:
        unit: Unit of the values, for logs and pictures (e.g. ``'m'``).
            ``'px'``: lengths in pixels of the image (a distance transform,
            an object's size), which grow with it: every resize, zoom and
            the resize of a prediction to the original size multiply them
            by the scale.
        distance: The values are distances from the camera (depth): a zoom
            by ``s`` (objects ``s`` times larger) divides them by ``s``.
        ignore_index: Value of ignored pixels.
        name: The task's name.
    """

    metric_keys = ('rmse', 'abs_rel')
    lower_is_better = frozenset(metric_keys)

    def __init__(self, unit: str = '', distance: bool = False,
                 ignore_index: float = IGNORE_INDEX,
                 name: Optional[str] = None) -> None:
        if distance and unit == PIXELS:
            raise ValueError(f'ScalarMapTask {name}: values in pixels are '
                             'lengths in the image, not distances from the '
                             'camera: give distance=False')
        super().__init__(name, ignore_index=ignore_index)
        self.unit = unit
        self.distance = distance

    def target_problem(self, target: np.ndarray) -> Optional[str]:
        """(H, W) finite values (or ``ignore_index``)."""
        values = self.map_values(target)
        if values.ndim != 2:
            return f'a scalar map is (H, W); got shape {target.shape}'
        return bad_values(values, ~np.isfinite(values), 'finite values or '
                          f'the ignore value {self.ignore_index}')

    def zoom_values(self, target: np.ndarray, zoom: float) -> np.ndarray:
        if not self.distance:
            return target
        target = target.astype(np.float32)
        valid = target != self.ignore_index
        target[valid] = target[valid] / zoom
        return target

    def rescale_values(self, values: Union[np.ndarray, Tensor],
                       scale: float) -> Union[np.ndarray, Tensor]:
        if self.unit != PIXELS:
            return values
        if isinstance(values, Tensor):
            return torch.where(values != self.ignore_index, values * scale,
                               values)
        values = values.astype(np.float32)
        return np.where(values != self.ignore_index, values * scale, values)

    @property
    def default_loss(self) -> dict:
        return dict(type='MaskedL1Loss', ignore_index=self.ignore_index)

    def sample_stats(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        return depth_errors(pred[0], gt[0], self.ignore_index)

    def summarize(self, stats: List[np.ndarray]) -> Dict[str, float]:
        n, sq, rel = np.sum(stats, axis=0)
        return dict(rmse=float(np.sqrt(sq / max(n, 1))),
                    abs_rel=float(rel / max(n, 1)))

    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        """A viridis map over the range of the valid values of
        ``reference`` (the target), or of ``data`` itself."""
        values = data[0].astype(np.float32)
        valid = values != self.ignore_index
        scale = values if reference is None else reference[0]
        in_range = scale[scale != self.ignore_index]
        lo, hi = (in_range.min(initial=0), in_range.max(initial=1)) \
            if in_range.size else (0, 1)
        return heat_map(values, valid, cv2.COLORMAP_VIRIDIS, lo, hi)
