"""An RGB image as the output (underwater enhancement, restoration)."""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.structures import PixelData

from mmsquad.functional import psnr, ssim, uciqe, uiqm
from mmsquad.functional.underwater_quality import QUALITY_MODES
from mmsquad.registry import TASKS
from .base_task import DenseMapTask


@TASKS.register_module()
class ImageTask(DenseMapTask):
    """An RGB image in [0, 1] at the input's resolution; metrics ``psnr``
    and ``ssim`` against the reference (samples that have one) and the
    no-reference ``uiqm`` and ``uciqe`` on every output, each the mean over
    images.

    Args:
        ignore_index: Value of padded pixels (outside [0, 1]).
        quality_mode: How ``uiqm`` and ``uciqe`` are computed: ``'paper'``
            (the papers' definitions) or ``'reference'`` (the Python
            implementations behind most published tables); see
            :mod:`mmsquad.functional.underwater_quality`.
        name: The task's name.
    """

    channels = 3
    interpolation = 'bilinear'
    metric_keys = ('psnr', 'ssim', 'uiqm', 'uciqe')
    scores_unlabelled = True

    def __init__(self, ignore_index: float = -1.0, quality_mode: str = 'paper',
                 name: Optional[str] = None) -> None:
        if quality_mode not in QUALITY_MODES:
            raise ValueError(f'ImageTask {name}: quality_mode must be one of '
                             f'{QUALITY_MODES}, got {quality_mode!r}')
        super().__init__(name, ignore_index=ignore_index)
        self.quality_mode = quality_mode

    @property
    def default_loss(self) -> dict:
        return dict(type='L1SSIMLoss')

    def pack_image(self, rgb: np.ndarray) -> PixelData:
        """An (H, W, 3) uint8 RGB image as a (3, H, W) target in [0, 1]."""
        return self.pack(rgb.astype(np.float32) / 255)

    def sample_stats(self, pred: np.ndarray,
                     gt: Optional[np.ndarray]) -> Dict[str, float]:
        pred = torch.from_numpy(pred).float()
        rgb = np.round(pred.clamp(0, 1).permute(1, 2, 0).numpy() * 255)
        stats = dict(uiqm=uiqm(rgb, mode=self.quality_mode),
                     uciqe=uciqe(rgb, mode=self.quality_mode))
        if gt is not None:
            ref = torch.from_numpy(gt).float()
            if ref.shape != pred.shape:
                raise ValueError(
                    f'{self.name}: the output {tuple(pred.shape)} and its '
                    f'reference {tuple(ref.shape)} differ in size; load the '
                    'reference after geometric test transforms')
            stats.update(psnr=psnr(pred, ref), ssim=ssim(pred, ref))
        return stats

    def summarize(self, stats: List[Dict[str, float]]) -> Dict[str, float]:
        return {key: float(np.mean([s[key] for s in stats if key in s]))
                for key in self.metric_keys if any(key in s for s in stats)}

    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        rgb = data.transpose(1, 2, 0).astype(np.float32)
        return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)

    def to_output(self, prediction: PixelData) -> np.ndarray:
        """An (H, W, 3) uint8 RGB image."""
        return self.render(prediction.data.float().cpu().numpy())
