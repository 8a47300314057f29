"""Turning dense targets and predictions into RGB pictures."""
from typing import List, Optional

import cv2
import numpy as np

from mmsquad.structures import IGNORE_INDEX, get_dense_task


def voc_palette() -> List[int]:
    """The PASCAL VOC colour palette (flat, 768 values)."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


PALETTE = np.array(voc_palette(), dtype=np.uint8).reshape(256, 3)


def _heat(values: np.ndarray, valid: np.ndarray, colormap: int,
          lo: float, hi: float) -> np.ndarray:
    scaled = np.clip((values - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = cv2.applyColorMap((scaled * 255).astype(np.uint8),
                            colormap)[..., ::-1]
    return np.where(valid[..., None], rgb, 0).astype(np.uint8)


def colorize(task: str, data: np.ndarray,
             value_range: Optional[tuple] = None) -> np.ndarray:
    """An (H, W, 3) uint8 RGB picture of one task's (C, H, W) map.

    Label maps use the VOC palette, normals map (x, y, z) to RGB, depth a
    viridis colour map (over ``value_range``), saliency a jet heat map and
    edges grey levels, images (RGB in [0, 1]) show as they are. Ignored
    pixels are black.
    """
    kind = get_dense_task(task).kind
    if kind == 'image':
        rgb = data.transpose(1, 2, 0).astype(np.float32)
        return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    if kind == 'label':
        return PALETTE[data[0].astype(np.int64) % 256]
    if kind == 'vector':
        valid = np.all(data != IGNORE_INDEX, axis=0)
        rgb = ((data.transpose(1, 2, 0) + 1) / 2 * 255).clip(0, 255)
        return np.where(valid[..., None], rgb, 0).astype(np.uint8)
    values = data[0].astype(np.float32)
    valid = values != IGNORE_INDEX
    if kind == 'scalar':
        lo, hi = value_range or (values[valid].min(initial=0),
                                 values[valid].max(initial=1))
        return _heat(values, valid, cv2.COLORMAP_VIRIDIS, lo, hi)
    if task == 'sal':
        return _heat(values, valid, cv2.COLORMAP_JET, 0, 1)
    grey = (np.clip(values, 0, 1) * 255 * valid).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)
