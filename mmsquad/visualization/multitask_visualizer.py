"""Panels of an image with every task's ground truth and prediction."""
from typing import Mapping, Optional

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from mmsquad.registry import VISUALIZERS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask


def _tile(picture: np.ndarray, size: tuple, title: str) -> np.ndarray:
    tile = cv2.resize(picture, (size[1], size[0]),
                      interpolation=cv2.INTER_NEAREST)
    cv2.putText(tile, title, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (255, 255, 255), 1, cv2.LINE_AA)
    return tile


@VISUALIZERS.register_module()
class MultiTaskVisualizer(Visualizer):
    """Draws one panel per image: the input, then a column per task with
    the target above the prediction, each drawn by the task's kind (label
    palettes, heat maps, unit vectors as colours, boxes over the input,
    images as they are).

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
                   tasks: Mapping[str, BaseTask]) -> np.ndarray:
        """The panel for an RGB ``image`` and a predicted ``sample``.

        With any target in ``sample`` the panel has two rows (targets above
        predictions); without, one row (the input and the predictions).
        Each task kind draws its own tiles.

        Args:
            image: The input image, RGB.
            sample: A data sample with the tasks' predictions.
            tasks: ``{name: task}`` to draw (those predicted in
                ``sample``), e.g. the model's ``tasks``.
        """
        tasks = {n: t for n, t in tasks.items() if t.prediction_key in sample}
        with_gt = any(t.has_target(sample) for t in tasks.values())
        classes = (self.dataset_meta or {}).get('classes', ())
        blank = np.zeros((*self.tile_size, 3), np.uint8)
        top = [_tile(image, self.tile_size, 'input')]
        bottom = [blank]
        for name, task in tasks.items():
            gt = sample.get(task.target_key)
            if gt is not None:
                top.append(_tile(task.draw(image, gt, classes),
                                 self.tile_size, f'{name} gt'))
            elif with_gt:
                top.append(_tile(blank, self.tile_size, f'{name}: no gt'))
            pred_tile = _tile(
                task.draw(image, sample.get(task.prediction_key), classes,
                          reference=gt), self.tile_size, f'{name} pred')
            (bottom if with_gt else top).append(pred_tile)
        if not with_gt:
            return np.concatenate(top, 1)
        return np.concatenate([np.concatenate(top, 1),
                               np.concatenate(bottom, 1)], 0)

    @master_only
    def add_datasample(self, name: str, image: np.ndarray,
                       data_sample: MultiTaskDataSample, step: int = 0,
                       out_file: Optional[str] = None, *,
                       tasks: Mapping[str, BaseTask]) -> np.ndarray:
        """Draw the panel of ``tasks``, send it to every backend and, with
        ``out_file``, write it there."""
        panel = self.make_panel(image, data_sample, tasks)
        self.add_image(name, panel, step)
        if out_file is not None:
            mmcv.imwrite(panel[..., ::-1], out_file)
        return panel
