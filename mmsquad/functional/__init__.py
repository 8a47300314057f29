"""Array maths without state or registries: per-image statistics, image
quality measures and drawing primitives. The bottom layer, below the task
kinds, the metrics and the visualizer."""
from .drawing import PALETTE, draw_boxes, grey_levels, heat_map, voc_palette
from .enhancement import psnr, ssim
from .underwater_quality import uciqe, uicm, uiconm, uiqm, uism

__all__ = [
    'PALETTE', 'draw_boxes', 'grey_levels', 'heat_map', 'psnr', 'ssim',
    'uciqe', 'uicm', 'uiconm', 'uiqm', 'uism', 'voc_palette'
]
