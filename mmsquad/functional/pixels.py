"""Per-pixel array operations of the data pipeline, through OpenCV where
it does them several times faster than numpy (mask fills over channels,
table look-ups), with numpy for what OpenCV does not take."""
import cv2
import numpy as np


def fill_pixels(array: np.ndarray, mask: np.ndarray,
                value: float) -> np.ndarray:
    """``array`` (H, W[, C]) with ``value`` in every channel of the pixels
    where the (H, W) bool ``mask`` is set (in place where possible; use
    the result)."""
    try:
        return cv2.copyTo(np.full_like(array, value), mask.view(np.uint8),
                          array).reshape(array.shape)
    except cv2.error:
        array[mask] = value
        return array


def keep_pixels(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of ``array`` (H, W[, C]) with zeros in every channel of the
    pixels where the (H, W) bool ``mask`` is not set."""
    try:
        return cv2.copyTo(array, mask.view(np.uint8)).reshape(array.shape)
    except cv2.error:
        return np.where(mask.reshape(mask.shape + (1, ) * (array.ndim - 2)),
                        array, np.zeros((), array.dtype))


def look_up(levels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[levels]`` for uint8 ``levels`` and a 256-entry ``table``."""
    if levels.dtype == np.uint8 and table.shape == (256, ) and \
            levels.ndim <= 3 and (levels.ndim < 3 or levels.shape[2] <= 4):
        return cv2.LUT(levels, table)
    return table[levels]
