"""Panels of an image with every task's ground truth and prediction."""
from typing import Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from mmsquad.registry import VISUALIZERS
from mmsquad.structures import DENSE_TASKS, MultiTaskDataSample
from .colorize import colorize


def _tile(picture: np.ndarray, size: tuple, title: str) -> np.ndarray:
    tile = cv2.resize(picture, (size[1], size[0]),
                      interpolation=cv2.INTER_NEAREST)
    cv2.putText(tile, title, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (255, 255, 255), 1, cv2.LINE_AA)
    return tile


@VISUALIZERS.register_module()
class MultiTaskVisualizer(Visualizer):
    """Draws one panel per image: the input, then a column per task with
    the ground truth above the prediction.

    Args:
        name: Instance name.
        vis_backends: Backend configs (local files, TensorBoard, ...).
        save_dir: Directory of the backends.
        tile_size: ``(h, w)`` of every tile of the panel.
    """

    def __init__(self, name: str = 'visualizer', vis_backends=None,
                 save_dir: Optional[str] = None,
                 tile_size: tuple = (192, 192)) -> None:
        super().__init__(name=name, vis_backends=vis_backends,
                         save_dir=save_dir)
        self.tile_size = tuple(tile_size)

    def make_panel(self, image: np.ndarray, sample: MultiTaskDataSample,
                   tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        """The panel for an RGB ``image`` and a predicted ``sample``.

        With ground truth in ``sample`` the panel has two rows (ground truth
        above prediction); without, one row (the input and the predictions).

        Args:
            image: The input image, RGB.
            sample: A data sample with ``pred_<task>`` fields.
            tasks: Tasks to draw (default: every predicted one).
        """
        if tasks is None:
            tasks = [t for t in DENSE_TASKS if f'pred_{t}' in sample]
        with_gt = any(f'gt_{t}' in sample for t in tasks)
        blank = np.zeros((*self.tile_size, 3), np.uint8)
        top = [_tile(image, self.tile_size, 'input')]
        bottom = [blank]
        for task in tasks:
            pred = sample.get_prediction(task).data.cpu().numpy()
            gt = sample.get(f'gt_{task}')
            value_range = None
            if gt is not None:
                gt = gt.data.cpu().numpy()
                valid = gt[gt != 255]
                if valid.size and DENSE_TASKS[task].kind == 'scalar':
                    value_range = (float(valid.min()), float(valid.max()))
                top.append(_tile(colorize(task, gt, value_range),
                                 self.tile_size, f'{task} gt'))
            elif with_gt:
                top.append(_tile(blank, self.tile_size, f'{task}: no gt'))
            pred_tile = _tile(colorize(task, pred, value_range),
                              self.tile_size, f'{task} pred')
            (bottom if with_gt else top).append(pred_tile)
        if not with_gt:
            return np.concatenate(top, 1)
        return np.concatenate([np.concatenate(top, 1),
                               np.concatenate(bottom, 1)], 0)

    @master_only
    def add_datasample(self, name: str, image: np.ndarray,
                       data_sample: MultiTaskDataSample, step: int = 0,
                       out_file: Optional[str] = None) -> np.ndarray:
        """Draw the panel, send it to every backend and, with ``out_file``,
        write it there."""
        panel = self.make_panel(image, data_sample)
        self.add_image(name, panel, step)
        if out_file is not None:
            mmcv.imwrite(panel[..., ::-1], out_file)
        return panel
