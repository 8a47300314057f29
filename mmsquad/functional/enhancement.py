"""Full-reference measures of an enhanced image."""
import math

import torch
from pytorch_msssim import ssim as _ssim
from torch import Tensor


def psnr(pred: Tensor, ref: Tensor) -> float:
    """Peak signal-to-noise ratio (dB) of two (3, H, W) images in [0, 1]
    (inf when they are equal)."""
    mse = float(torch.mean((pred.double() - ref.double())**2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def ssim(pred: Tensor, ref: Tensor) -> float:
    """Structural similarity of two (3, H, W) images in [0, 1]: Gaussian
    window 11, sigma 1.5, over the channels (``pytorch_msssim``)."""
    return float(_ssim(pred[None].float(), ref[None].float(), data_range=1.0,
                       size_average=True))
