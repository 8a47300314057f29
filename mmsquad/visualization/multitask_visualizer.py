"""Panels of an image with every task's ground truth and prediction."""
from typing import List, Mapping, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from mmsquad.registry import VISUALIZERS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask

#: Height of the caption strip above every picture, and of a legend line.
LINE = 16
FONT, FONT_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.4
Legend = List[Tuple[Tuple[int, int, int], str]]


def text_width(text: str) -> int:
    """Pixels ``text`` takes in the panels' font."""
    return cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0]


def fitted(text: str, width: int) -> str:
    """``text`` cut (with '..') to fit ``width`` pixels."""
    while text and text_width(text) > width:
        text = text[:-3] + '..' if len(text) > 3 else text[:-1]
    return text


def legend_lines(legend: Legend, width: int) -> List[Legend]:
    """The legend's entries (a colour swatch and a name each) laid out on
    lines ``width`` pixels wide."""
    lines: List[Legend] = [[]]
    used = 0
    for colour, name in legend:
        entry = LINE + text_width(name) + 6
        if lines[-1] and used + entry > width:
            lines.append([])
            used = 0
        lines[-1].append((colour, name))
        used += entry
    return [line for line in lines if line]


def cell(picture: np.ndarray, size: Tuple[int, int], caption: str,
         legend: Legend, legend_height: int) -> np.ndarray:
    """A caption strip, the picture resized to ``size`` (h, w) and a
    legend strip of ``legend_height`` pixels, stacked."""
    h, w = size
    out = np.zeros((LINE + h + legend_height, w, 3), np.uint8)
    cv2.putText(out, fitted(caption, w - 4), (2, LINE - 4), FONT,
                FONT_SCALE, (255, 255, 255), 1, cv2.LINE_AA)
    out[LINE:LINE + h] = cv2.resize(picture, (w, h),
                                    interpolation=cv2.INTER_NEAREST)
    for row, line in enumerate(legend_lines(legend, w)):
        y, x = LINE + h + row * LINE, 2
        for colour, name in line:
            corners = (x, y + 3), (x + LINE - 6, y + LINE - 3)
            cv2.rectangle(out, *corners, tuple(int(c) for c in colour), -1)
            cv2.rectangle(out, *corners, (128, 128, 128), 1)  # black shows
            x += LINE - 2
            cv2.putText(out, fitted(name, w - x), (x, y + LINE - 4), FONT,
                        FONT_SCALE, (255, 255, 255), 1, cv2.LINE_AA)
            x += text_width(name) + 8
    return out



def class_names(dataset_meta: Mapping, name: str,
                task: BaseTask) -> Sequence[str]:
    """The class names of task ``name`` in a dataset's metainfo: its
    ``task_classes`` entry, else its ``classes`` when they are as many as
    the task's; empty when it names none."""
    named = (dataset_meta.get('task_classes') or {}).get(name)
    if named is not None:
        return tuple(named)
    classes = tuple(dataset_meta.get('classes') or ())
    count = getattr(task, 'num_classes', None)
    return classes if count is None or len(classes) == count else ()


@VISUALIZERS.register_module()
class MultiTaskVisualizer(Visualizer):
    """Draws one panel per image: the input, then a column per task with
    the target above the prediction, each drawn by the task's kind (label
    palettes, heat maps, unit vectors as colours, boxes over the input,
    images as they are).

    Every picture keeps the image's aspect ratio (``tile_size[0]`` pixels
    high), under a caption strip (captions never cover a picture or each
    other) and above a legend strip for kinds that have one: a label map's
    classes, named where the dataset names them (its metainfo's
    ``task_classes`` of the task, or its ``classes`` when their number is
    the task's).

    Args:
        name: Instance name.
        vis_backends: Backend configs (local files, TensorBoard, ...).
        save_dir: Directory of the backends.
        tile_size: ``(h, w)``: the height of every picture, and the width
            of a square image's.
    """

    def __init__(self, name: str = 'visualizer', vis_backends=None,
                 save_dir: Optional[str] = None,
                 tile_size: tuple = (192, 192)) -> None:
        super().__init__(name=name, vis_backends=vis_backends,
                         save_dir=save_dir)
        self.tile_size = tuple(tile_size)

    def class_names(self, name: str, task: BaseTask) -> Sequence[str]:
        """The class names of task ``name`` from the dataset's metainfo;
        empty when it names none."""
        return class_names(self.dataset_meta or {}, name, task)

    def make_panel(self, image: np.ndarray, sample: MultiTaskDataSample,
                   tasks: Mapping[str, BaseTask],
                   overlay: float = 0.0,
                   legends: bool = True) -> np.ndarray:
        """The panel for an RGB ``image`` and a ``sample`` with targets,
        predictions or both.

        With targets and predictions the panel has two rows (targets above
        predictions); with only one of them, one row (the input, then the
        targets or the predictions). Each task kind draws its own pictures
        and legends.

        Args:
            image: The input image, RGB.
            sample: A data sample with the tasks' targets or predictions.
            tasks: ``{name: task}`` to draw (those in ``sample``), e.g. the
                model's ``tasks``.
            overlay: The input's weight in every picture of its size
                (0: the pictures alone; 0.5 shows at a glance whether a
                target lines up with its image).
            legends: Draw the legend strips. Without them, panels of
                images of one size have one size (a label map's legend
                lists the classes it shows, so its height varies), as the
                frames of a video must.
        """
        tasks = {n: t for n, t in tasks.items()
                 if t.prediction_key in sample or t.has_target(sample)}
        with_gt = any(t.has_target(sample) for t in tasks.values())
        with_pred = any(t.prediction_key in sample for t in tasks.values())
        h = self.tile_size[0]
        size = (h, max(1, round(h * self.tile_size[1] / self.tile_size[0] *
                                image.shape[1] / image.shape[0])))
        blank = np.zeros((*size, 3), np.uint8)

        def over(picture: np.ndarray) -> np.ndarray:
            if not overlay or picture.shape != image.shape:
                return picture
            return cv2.addWeighted(image, overlay, picture, 1 - overlay, 0)

        top = [(image, 'input', [])]
        bottom = [(blank, '', [])]
        for name, task in tasks.items():
            classes = self.class_names(name, task)
            gt = sample.get(task.target_key)
            if gt is not None:
                top.append((over(task.draw(image, gt, classes)),
                            f'{name} gt',
                            task.legend(gt, classes) if legends else []))
            elif with_gt:
                top.append((blank, f'{name}: no gt', []))
            prediction = sample.get(task.prediction_key)
            if prediction is not None:
                pred = (over(task.draw(image, prediction, classes,
                                       reference=gt)),
                        f'{name} pred',
                        task.legend(prediction, classes) if legends else [])
                (bottom if with_gt else top).append(pred)
            elif with_pred:
                bottom.append((blank, f'{name}: no pred', []))
        rows = [top, bottom] if with_gt and with_pred else [top]
        return np.concatenate([self._row(row, size) for row in rows], 0)

    @staticmethod
    def _row(row, size: Tuple[int, int]) -> np.ndarray:
        """One row of cells, its legend strips as high as the highest."""
        height = max(len(legend_lines(legend, size[1])) for _, _, legend
                     in row) * LINE
        return np.concatenate([cell(picture, size, caption, legend, height)
                               for picture, caption, legend in row], 1)

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
