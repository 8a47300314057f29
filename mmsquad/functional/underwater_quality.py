"""No-reference underwater image quality: UIQM and UCIQE.

UIQM (Panetta, Gao and Agaian, IEEE J. Oceanic Eng. 2016) is
``0.0282 UICM + 0.2953 UISM + 3.5753 UIConM`` on an RGB image in [0, 255]:

* UICM, colourfulness: with ``RG = R - G`` and ``YB = (R + G) / 2 - B``,
  ``-0.0268 sqrt(mu_RG^2 + mu_YB^2) + 0.1586 sqrt(s_RG^2 + s_YB^2)`` where
  ``mu`` is the alpha-trimmed mean (alpha_L = alpha_R = 0.1: the
  ``ceil(0.1 K)`` smallest and ``floor(0.1 K)`` largest of the K values are
  dropped) and ``s^2`` the mean squared deviation from it.
* UISM, sharpness: ``sum_c lambda_c EME(Sobel magnitude of c x c)`` with
  ``lambda = (0.299, 0.587, 0.114)``; ``EME = 2 / (k1 k2) sum_blocks
  log(max / min)`` over the ``k1 x k2`` whole 8x8 blocks (blocks with a zero
  extreme add nothing).
* UIConM, contrast: ``logAMEE`` of the intensity
  ``0.299 R + 0.587 G + 0.114 B``, ``-1 / (k1 k2) sum_blocks r log r`` with
  ``r = (max (-) min) / (max (+) min)`` in the PLIP arithmetic
  (``a (+) b = a + b - a b / 1026``, ``a (-) b = 1026 (a - b) / (1026 - b)``);
  flat blocks add nothing. The sign makes more contrast a larger value.

UCIQE (Yang and Sowmya, IEEE TIP 2015) is ``0.4680 sigma_c + 0.2745 con_l +
0.2576 mu_s`` in CIELab (D65), with L / 100 and chroma
``sqrt(a^2 + b^2) / 100``: ``sigma_c`` the standard deviation of chroma,
``con_l`` the mean of the brightest 1% of L minus that of the darkest 1%,
and ``mu_s`` the mean saturation ``C / sqrt(C^2 + L^2)``.

Each measure has two modes. ``'paper'`` (the default) computes the
definitions above, as the papers state them. ``'reference'`` reproduces the
Python implementations that most published tables were computed with
(UIQM: ``uqim_utils.py`` of FUnIE-GAN, Islam et al. 2020; UCIQE:
``UCIQE.py`` of TongJiayan/UCIQE-python), which differ from the papers:

* UIQM: the trimmed mean drops ``ceil(0.1 K) + 1`` smallest values but
  divides by ``K - ceil(0.1 K) - floor(0.1 K)``; each Sobel magnitude is
  rescaled to a maximum of 255; EME and contrast use 10x10 blocks; the blue
  weight of UISM is 0.144 (not 0.114); UIConM takes each block's max and
  min over all three channels and uses ordinary arithmetic,
  ``-1 / (k1 k2) sum (max - min) / (max + min) log((max - min) /
  (max + min))``, not PLIP.
* UCIQE: OpenCV's 8-bit Lab (L in [0, 255], a and b offset by 128), each
  divided by 255; chroma ``sqrt(a^2 + b^2)`` with the offsets in; the
  luminance contrast between the values at sorted positions
  ``int(0.99 n)`` and ``int(0.01 n)``; saturation ``chroma / L``.

The paper mode is the default because it is the measure the papers define;
use ``'reference'`` to compare with published tables.
"""
import math
from typing import Tuple

import cv2
import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab

LUMA = (0.299, 0.587, 0.114)
UIQM_WEIGHTS = (0.0282, 0.2953, 3.5753)
UCIQE_WEIGHTS = (0.4680, 0.2745, 0.2576)
PLIP_GAMMA = 1026.0
#: The modes of :func:`uiqm` and :func:`uciqe`.
QUALITY_MODES = ('paper', 'reference')
#: The reference implementation's block size and UISM channel weights.
REFERENCE_BLOCK = 10
REFERENCE_UISM_WEIGHTS = (0.299, 0.587, 0.144)


def _trimmed_mean(x: np.ndarray, alpha: float = 0.1,
                  mode: str = 'paper') -> float:
    x = np.sort(x.ravel())
    k = x.size
    lo, hi = int(math.ceil(alpha * k)), int(math.floor(alpha * k))
    if mode == 'reference':
        return float(x[lo + 1:k - hi].sum() / (k - lo - hi))
    return float(x[lo:k - hi].mean())


def uicm(rgb: np.ndarray, mode: str = 'paper') -> float:
    """Colourfulness of an (H, W, 3) RGB image in [0, 255]."""
    rgb = rgb.astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = (rgb[..., 0] + rgb[..., 1]) / 2 - rgb[..., 2]
    mu_rg, mu_yb = _trimmed_mean(rg, mode=mode), _trimmed_mean(yb, mode=mode)
    var = np.mean((rg - mu_rg)**2) + np.mean((yb - mu_yb)**2)
    return -0.0268 * math.hypot(mu_rg, mu_yb) + 0.1586 * math.sqrt(var)


def _block_extremes(x: np.ndarray, block: int
                    ) -> Tuple[np.ndarray, np.ndarray]:
    k1, k2 = x.shape[0] // block, x.shape[1] // block
    if k1 == 0 or k2 == 0:
        raise ValueError(f'an image of {x.shape[:2]} has no whole '
                         f'{block}x{block} block')
    blocks = x[:k1 * block, :k2 * block].reshape(k1, block, k2, block)
    return blocks.max(axis=(1, 3)), blocks.min(axis=(1, 3))


def eme(x: np.ndarray, block: int = 8) -> float:
    """Measure of enhancement: ``2 / (k1 k2) sum log(max / min)``."""
    big, small = _block_extremes(x, block)
    valid = (big > 0) & (small > 0)
    logs = np.log(np.where(valid, big, 1) / np.where(valid, small, 1))
    return float(2.0 / big.size * logs.sum())


def uism(rgb: np.ndarray, block: int = 8, mode: str = 'paper') -> float:
    """Sharpness of an (H, W, 3) RGB image in [0, 255]."""
    rgb = rgb.astype(np.float64)
    weights = REFERENCE_UISM_WEIGHTS if mode == 'reference' else LUMA
    total = 0.0
    for c, weight in enumerate(weights):
        channel = rgb[..., c]
        edges = np.hypot(ndimage.sobel(channel, axis=0),
                         ndimage.sobel(channel, axis=1))
        if mode == 'reference' and edges.max() > 0:
            edges *= 255.0 / edges.max()
        total += weight * eme(edges * channel, block)
    return total


def uiconm(rgb: np.ndarray, block: int = 8, mode: str = 'paper') -> float:
    """Contrast of an (H, W, 3) RGB image in [0, 255]."""
    if mode == 'reference':
        channels = rgb.astype(np.float64)
        big = _block_extremes(channels.max(axis=2), block)[0]
        small = _block_extremes(channels.min(axis=2), block)[1]
        top, bottom = big - small, big + small
        valid = (top > 0) & (bottom > 0)
        ratio = np.where(valid, top, 1) / np.where(valid, bottom, 1)
        return float(-(ratio * np.log(ratio)).sum() / big.size)
    intensity = rgb.astype(np.float64) @ np.array(LUMA)
    big, small = _block_extremes(intensity, block)
    minus = PLIP_GAMMA * (big - small) / (PLIP_GAMMA - small)
    plus = big + small - big * small / PLIP_GAMMA
    valid = (minus > 0) & (plus > 0)
    ratio = np.where(valid, minus, 1) / np.where(valid, plus, 1)
    return float(-(ratio * np.log(ratio)).sum() / big.size)


def uiqm(rgb: np.ndarray, block: int = 8, mode: str = 'paper') -> float:
    """Underwater image quality measure of an RGB image in [0, 255]
    (``mode``: see the module; the reference mode uses its 10x10 blocks
    whatever ``block``)."""
    _check_mode(mode)
    if mode == 'reference':
        block = REFERENCE_BLOCK
    c1, c2, c3 = UIQM_WEIGHTS
    return (c1 * uicm(rgb, mode) + c2 * uism(rgb, block, mode) +
            c3 * uiconm(rgb, block, mode))


def uciqe(rgb: np.ndarray, mode: str = 'paper') -> float:
    """Underwater colour image quality evaluation of an (H, W, 3) RGB
    image in [0, 255] (``mode``: see the module)."""
    _check_mode(mode)
    if mode == 'reference':
        return _uciqe_reference(rgb)
    lab = rgb2lab(rgb.astype(np.float64) / 255.0)
    lum = lab[..., 0].ravel() / 100.0
    chroma = np.hypot(lab[..., 1], lab[..., 2]).ravel() / 100.0
    sigma_c = float(chroma.std())
    top = max(1, int(round(0.01 * lum.size)))
    ordered = np.sort(lum)
    con_l = float(ordered[-top:].mean() - ordered[:top].mean())
    norm = np.hypot(chroma, lum)
    saturation = np.divide(chroma, norm, out=np.zeros_like(chroma),
                           where=norm > 0)
    c1, c2, c3 = UCIQE_WEIGHTS
    return c1 * sigma_c + c2 * con_l + c3 * float(saturation.mean())


def _uciqe_reference(rgb: np.ndarray) -> float:
    """UCIQE as the reference implementation computes it (see the
    module)."""
    lab = cv2.cvtColor(np.clip(np.round(rgb), 0, 255).astype(np.uint8),
                       cv2.COLOR_RGB2LAB).astype(np.float64) / 255.0
    lum = lab[..., 0].ravel()
    chroma = np.hypot(lab[..., 1], lab[..., 2]).ravel()
    ordered = np.sort(lum)
    con_l = ordered[int(lum.size * 0.99)] - ordered[int(lum.size * 0.01)]
    saturation = np.divide(chroma, lum, out=np.zeros_like(chroma),
                           where=lum != 0)
    c1, c2, c3 = UCIQE_WEIGHTS
    return float(c1 * chroma.std() + c2 * con_l + c3 * saturation.mean())


def _check_mode(mode: str) -> None:
    if mode not in QUALITY_MODES:
        raise ValueError(f'mode must be one of {QUALITY_MODES}, got '
                         f'{mode!r}')
