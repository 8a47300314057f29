"""Array maths without state or registries: per-image statistics, image
quality measures, drawing primitives and the pipeline's per-pixel
operations. The bottom layer, below the task
kinds, the metrics and the visualizer."""
from .drawing import PALETTE, draw_boxes, grey_levels, heat_map, voc_palette
from .enhancement import psnr, ssim
from .pixels import fill_pixels, keep_pixels, look_up
from .underwater_quality import uciqe, uicm, uiconm, uiqm, uism

__all__ = [
    'PALETTE', 'draw_boxes', 'fill_pixels', 'grey_levels', 'heat_map',
    'keep_pixels', 'look_up', 'psnr', 'ssim',
    'uciqe', 'uicm', 'uiconm', 'uiqm', 'uism', 'voc_palette'
]
