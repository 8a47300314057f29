"""A task kind and an annotation reader from outside mmsquad, as a user
writes them in a module of their own (imported by a config's
``custom_imports``): the distance in pixels from every pixel to the nearest
salient one, read from PASCAL_MT's saliency PNGs."""
from typing import Dict, List, Optional

import cv2
import numpy as np

from mmsquad.datasets.transforms.loading import read_png
from mmsquad.functional import heat_map
from mmsquad.registry import ANNOTATION_READERS, TASKS
from mmsquad.tasks import DenseMapTask


@ANNOTATION_READERS.register_module(name='saliency_distance_png')
def read_saliency_distance(path: str, results: dict) -> np.ndarray:
    """Pixels to the nearest salient pixel of a saliency PNG (0 on it)."""
    salient = read_png(path, 'grayscale') > 127
    if not salient.any():
        return np.full(salient.shape, 255, np.float32)  # nothing: ignored
    return cv2.distanceTransform((~salient).astype(np.uint8), cv2.DIST_L2,
                                 3).astype(np.float32)


@TASKS.register_module()
class PixelDistanceTask(DenseMapTask):
    """Distances in pixels, interpolated bilinearly, scaled with the
    image; metric: mean absolute error in pixels.

    Args:
        ignore_index: Value of ignored pixels.
        name: The task's name.
    """

    interpolation = 'bilinear'
    metric_keys = ('mae', )
    lower_is_better = frozenset(metric_keys)

    def __init__(self, ignore_index: float = 255,
                 name: Optional[str] = None) -> None:
        super().__init__(name, ignore_index)

    @property
    def default_loss(self) -> dict:
        return dict(type='MaskedL1Loss', ignore_index=self.ignore_index)

    def rescale_values(self, values, scale: float):
        return values * scale  # ignored pixels are masked where it counts

    def sample_stats(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        valid = gt[0] != self.ignore_index
        return np.array([np.abs(pred[0] - gt[0])[valid].sum(), valid.sum()])

    def summarize(self, stats: List[np.ndarray]) -> Dict[str, float]:
        error, count = np.sum(stats, axis=0)
        return dict(mae=float(error / max(count, 1)))

    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        values = data[0].astype(np.float32)
        valid = values != self.ignore_index
        return heat_map(values, valid, cv2.COLORMAP_VIRIDIS, 0,
                        max(float(values[valid].max(initial=1)), 1))
