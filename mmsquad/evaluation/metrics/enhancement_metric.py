"""Evaluation of the enhancement task."""
from typing import Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmsquad.registry import METRICS
from ..functional import psnr, ssim, uciqe, uiqm


@METRICS.register_module()
class EnhancementMetric(BaseMetric):
    """``enhance/psnr`` and ``enhance/ssim`` against the references (over
    the samples that have one), ``enhance/uiqm`` and ``enhance/uciqe`` on
    every enhanced output; each the mean over images.

    Args:
        task: Name of the enhancement task.
        collect_device: Device for collecting results across ranks.
        prefix: Key prefix (default: ``task``).
    """

    def __init__(self, task: str = 'enhance', collect_device: str = 'cpu',
                 prefix: str = None) -> None:
        super().__init__(collect_device=collect_device,
                         prefix=prefix or task)
        self.task = task

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Measure every enhanced image of the batch."""
        for sample in data_samples:
            pred = sample[f'pred_{self.task}']['data'].float().cpu()
            rgb = np.round(pred.clamp(0, 1).permute(1, 2, 0).numpy() * 255)
            result = dict(uiqm=uiqm(rgb), uciqe=uciqe(rgb))
            gt = sample.get(f'gt_{self.task}')
            if gt is not None:
                ref = gt['data'].float().cpu()
                if ref.shape != pred.shape:
                    raise ValueError(
                        f'{sample.get("img_path")}: enhanced image '
                        f'{tuple(pred.shape)} and reference '
                        f'{tuple(ref.shape)} differ in size; load the '
                        'reference after geometric test transforms')
                result.update(psnr=psnr(pred, ref), ssim=ssim(pred, ref))
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        keys = ('psnr', 'ssim', 'uiqm', 'uciqe')
        return {key: float(np.mean([r[key] for r in results if key in r]))
                for key in keys if any(key in r for r in results)}
