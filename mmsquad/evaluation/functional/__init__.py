"""Per-image measures."""
from .enhancement import psnr, ssim
from .underwater_quality import uciqe, uicm, uiconm, uiqm, uism

__all__ = ['psnr', 'ssim', 'uciqe', 'uicm', 'uiconm', 'uiqm', 'uism']
