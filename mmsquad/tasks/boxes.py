"""Object boxes, as mmdet represents them."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.structures import BaseDataElement, InstanceData

from mmsquad.functional import draw_boxes
from mmsquad.registry import TASKS
from .base_task import BaseTask


@TASKS.register_module()
class BoxTask(BaseTask):
    """Object detection with mmdet's conventions: the target is the
    sample's ``gt_instances``, the prediction its ``pred_instances``
    (boxes in original image coordinates, scores, labels), so mmdet's
    heads, transforms and metrics (``CocoDetectionMetric``) work on it
    unchanged; a model has at most one box task.

    Its samples may also carry mmdet's semantic map ``gt_sem_seg``
    (``sem_seg``, loaded by mmdet's ``LoadAnnotations(with_seg=True)``),
    which detectors with a semantic head (HTC, SCNet) train on.

    Args:
        name: The task's name.
    """

    #: The fields of an mmdet-packed sample (``PackDetInputs``) that the
    #: task's samples carry.
    packed_fields = ('gt_instances', 'ignored_instances', 'gt_sem_seg')
    #: The value of ``gt_sem_seg`` pixels that count for nothing (mmdet's
    #: ``seg_pad_value`` and its semantic heads' ``ignore_index``).
    semantic_ignore_index = 255

    @property
    def target_key(self) -> str:
        return 'gt_instances'

    @property
    def prediction_key(self) -> str:
        return 'pred_instances'

    @property
    def out_channels(self) -> None:
        """The detection head decides (classes and box coding)."""
        return None

    def draw(self, image: np.ndarray, value: BaseDataElement,
             classes: Sequence[str] = (),
             reference: Optional[BaseDataElement] = None) -> np.ndarray:
        """The boxes over the image, named by class."""
        return draw_boxes(image, value, classes)

    def to_output(self, prediction: InstanceData) -> Dict[str, np.ndarray]:
        """``bboxes`` (N, 4), ``scores`` (N,) and ``labels`` (N,)."""
        outputs = {}
        for key in ('bboxes', 'scores', 'labels'):
            value = prediction[key]
            if value.is_floating_point():
                value = value.float()
            outputs[key] = value.cpu().numpy()
        return outputs
