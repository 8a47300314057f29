"""One class label per image (scene or image classification)."""
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.structures import LabelData
from torch import Tensor

from mmsquad.registry import TASKS
from .base_task import BaseTask


@TASKS.register_module()
class ImageLabelTask(BaseTask):
    """A whole-image class label; metric top-1 ``accuracy`` (%).

    The target and the prediction are mmengine ``LabelData`` (``label``:
    a (1,) class index; predictions also carry ``score``, the class
    probabilities). Heads output ``num_classes`` logits per image; an
    exported graph returns their softmax. Geometric transforms leave the
    label as it is.

    Args:
        num_classes: Number of classes.
        classes: Class names, for pictures.
        name: The task's name.
    """

    metric_keys = ('accuracy', )

    def __init__(self, num_classes: int, classes: Sequence[str] = (),
                 name: Optional[str] = None) -> None:
        super().__init__(name)
        if num_classes < 2:
            raise ValueError(f'ImageLabelTask {name}: num_classes must be '
                             f'>= 2, got {num_classes}')
        self.num_classes = num_classes
        self.classes = tuple(classes)

    @property
    def out_channels(self) -> int:
        return self.num_classes

    @property
    def default_loss(self) -> dict:
        """mmdet's cross-entropy over the image logits."""
        return dict(_scope_='mmdet', type='CrossEntropyLoss')

    def target_problem(self, target: np.ndarray) -> Optional[str]:
        """One class index in ``[0, num_classes)``."""
        values = np.asarray(target).reshape(-1)
        if values.size != 1:
            return f'an image label is one class index; got {values.size}'
        if not 0 <= values[0] < self.num_classes:
            return (f'class index {values[0]}; expected one in [0, '
                    f'{self.num_classes})')
        return None

    def pack(self, target: np.ndarray) -> LabelData:
        """A class index (any array of one element) as ``LabelData``."""
        label = int(np.asarray(target).reshape(-1)[0])
        if not 0 <= label < self.num_classes:
            raise ValueError(f'{self.name}: label {label} is outside the '
                             f'{self.num_classes} classes')
        return LabelData(label=torch.tensor([label]))

    def finalize(self, logits: Tensor) -> LabelData:
        """One image's logits (C,) as its prediction."""
        scores = logits.float().softmax(dim=0)
        return LabelData(label=scores.argmax(dim=0, keepdim=True),
                         score=scores)

    def merge_views(self, outputs: List[LabelData], metainfos: List[dict],
                    tta_cfg: Optional[dict] = None) -> LabelData:
        """The views' class probabilities averaged, then the argmax (a
        flip does not change an image's class)."""
        scores = torch.stack([output.score for output in outputs]).mean(0)
        return LabelData(label=scores.argmax(dim=0, keepdim=True),
                         score=scores)

    def field_array(self, field: dict) -> np.ndarray:
        return field['label'].cpu().numpy()

    def sample_stats(self, pred: np.ndarray, gt: np.ndarray) -> float:
        return float(pred[0] == gt[0])

    def summarize(self, stats: List[float]) -> Dict[str, float]:
        return dict(accuracy=float(np.mean(stats) * 100))

    def target_values(self, target: LabelData) -> np.ndarray:
        return target.label.numpy()[None]

    def best_constant(self, values: np.ndarray) -> np.ndarray:
        """The most frequent class."""
        return np.array([np.bincount(values[0].astype(np.int64)).argmax()])

    def constant_prediction(self, constant: np.ndarray,
                            target: LabelData) -> LabelData:
        return LabelData(label=torch.as_tensor(constant).long())

    def draw(self, image: np.ndarray, value: LabelData,
             classes: Sequence[str] = (),
             reference: Optional[LabelData] = None) -> np.ndarray:
        """The image with the class name (and score) written on it."""
        label = int(value.label[0])
        text = self.classes[label] if label < len(self.classes) else \
            f'class {label}'
        if 'score' in value:
            text = f'{text} {float(value.score[label]):.2f}'
        canvas = np.ascontiguousarray(image).copy()
        scale = max(image.shape[:2]) / 400
        cv2.putText(canvas, text, (2, max(10, int(20 * scale))),
                    cv2.FONT_HERSHEY_SIMPLEX, max(scale, 0.3),
                    (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
        return canvas

    def to_output(self, prediction: LabelData) -> Dict[str, np.ndarray]:
        """``label`` (1,) and ``scores`` (C,)."""
        return dict(label=prediction.label.cpu().numpy(),
                    scores=prediction.score.float().cpu().numpy())
