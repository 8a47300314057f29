"""Panels of an image with every task's ground truth and prediction."""
from typing import Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from mmsquad.registry import VISUALIZERS
from mmsquad.structures import DENSE_TASKS, MultiTaskDataSample
from .colorize import PALETTE, colorize


def draw_boxes(image: np.ndarray, instances, classes: Sequence[str] = (),
               score_thr: float = 0.3) -> np.ndarray:
    """A copy of an RGB ``image`` with mmdet ``instances`` drawn: boxes
    (x1, y1, x2, y2) with class names and, for predictions, scores;
    predictions below ``score_thr`` are left out."""
    canvas = np.ascontiguousarray(image).copy()
    bboxes = instances.bboxes
    bboxes = (bboxes.tensor if hasattr(bboxes, 'tensor') else
              bboxes).detach().cpu().numpy()
    labels = instances.labels.cpu().numpy()
    scores = instances.scores.cpu().numpy() if 'scores' in instances \
        else np.ones(len(labels))
    thickness = max(1, round(max(image.shape[:2]) / 200))
    for box, label, score in zip(bboxes, labels, scores):
        if score < score_thr:
            continue
        color = tuple(int(c) for c in PALETTE[int(label) % 255 + 1])
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        name = classes[label] if label < len(classes) else str(label)
        text = name if 'scores' not in instances else f'{name} {score:.2f}'
        cv2.putText(canvas, text, (x1, max(y1 - 2, 8)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.3 * thickness, color,
                    thickness, cv2.LINE_AA)
    return canvas


def _tile(picture: np.ndarray, size: tuple, title: str) -> np.ndarray:
    tile = cv2.resize(picture, (size[1], size[0]),
                      interpolation=cv2.INTER_NEAREST)
    cv2.putText(tile, title, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (255, 255, 255), 1, cv2.LINE_AA)
    return tile


@VISUALIZERS.register_module()
class MultiTaskVisualizer(Visualizer):
    """Draws one panel per image: the input, then a column per task with
    the ground truth above the prediction. Detection (mmdet's
    ``gt_instances`` / ``pred_instances``) draws boxes on the input;
    enhancement shows the reference above the enhanced image.

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
            if 'pred_instances' in sample:
                tasks.insert(0, 'det')
        with_gt = any(f'gt_{t}' in sample for t in tasks) or (
            'det' in tasks and 'gt_instances' in sample)
        blank = np.zeros((*self.tile_size, 3), np.uint8)
        top = [_tile(image, self.tile_size, 'input')]
        bottom = [blank]
        if 'det' in tasks:
            tasks = [t for t in tasks if t != 'det']
            classes = (self.dataset_meta or {}).get('classes', ())
            if 'gt_instances' in sample:
                top.append(_tile(draw_boxes(image, sample.gt_instances,
                                            classes), self.tile_size,
                                 'det gt'))
            elif with_gt:
                top.append(_tile(blank, self.tile_size, 'det: no gt'))
            (bottom if with_gt else top).append(_tile(
                draw_boxes(image, sample.pred_instances, classes),
                self.tile_size, 'det pred'))
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
