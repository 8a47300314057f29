"""The dense training transforms written plainly, one step per line, as
mmsquad computed them before they were made faster: the reference the fast
ones must equal (labels exactly, smooth targets to interpolation
tolerance). Unit vectors are the involved case: warped over their valid
pixels, renormalised, turned by flips and rotations."""
import cv2
import numpy as np

IGNORE = 255
CV2 = dict(nearest=cv2.INTER_NEAREST, bilinear=cv2.INTER_LINEAR,
           bicubic=cv2.INTER_CUBIC)


def valid_pixels(target: np.ndarray) -> np.ndarray:
    return np.all(target != IGNORE, axis=-1)


def warp_unit_vectors(target: np.ndarray, warp, interpolation: str
                      ) -> np.ndarray:
    """Warp the valid vectors (invalid ones as zeros), keep the pixels
    whose nearest source is valid, renormalise them."""
    valid = valid_pixels(target)
    zeroed = np.where(valid[..., None], target, 0).astype(np.float32)
    warped = warp(zeroed, interpolation, 0)
    kept = warp(valid.astype(np.uint8), 'nearest', 0).astype(bool)
    warped[~kept] = IGNORE
    valid = valid_pixels(warped)
    norm = np.linalg.norm(warped[valid], axis=-1, keepdims=True)
    warped[valid] = warped[valid] / np.maximum(norm, 1e-6)
    return warped


def flip_unit_vectors(target: np.ndarray) -> np.ndarray:
    flipped = np.ascontiguousarray(target[:, ::-1])
    valid = valid_pixels(flipped)
    flipped[valid, 0] *= -1
    return flipped


def rotate_unit_vectors(target: np.ndarray, angle: float) -> np.ndarray:
    target = target.copy()
    valid = valid_pixels(target)
    theta = np.deg2rad(angle)
    c, s = np.cos(theta), np.sin(theta)
    x, y = target[valid, 0].copy(), target[valid, 1].copy()
    target[valid, 0] = c * x + s * y
    target[valid, 1] = -s * x + c * y
    return target


def affine(matrix: np.ndarray, size, smooth: str):
    """``warp(array, interpolation, fill)`` of an affine map onto ``size``
    (w, h), smooth targets with ``smooth``."""
    def warp(a, interpolation, fill):
        flags = CV2['nearest' if interpolation == 'nearest' else smooth]
        channels = a.shape[2] if a.ndim == 3 else 1
        out = cv2.warpAffine(a, matrix, size, flags=flags,
                             borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(fill, ) * channels)
        return out[..., None] if a.ndim == 3 and out.ndim == 2 else out
    return warp


def resize(size, smooth: str):
    def warp(a, interpolation, fill):
        flags = CV2['nearest' if interpolation == 'nearest' else smooth]
        out = cv2.resize(a, size, interpolation=flags)
        return out[..., None] if a.ndim == 3 and out.ndim == 2 else out
    return warp
