"""Object boxes, as mmdet represents them."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.ops import batched_nms
from mmdet.structures.bbox import bbox_flip
from mmengine.structures import BaseDataElement, InstanceData

from mmsquad.functional import draw_boxes
from mmsquad.registry import TASKS
from .base_task import BaseTask, flipped

#: mmdet's test-time merge settings (its configs' ``DetTTAModel``).
DEFAULT_TTA_CFG = dict(nms=dict(type='nms', iou_threshold=0.5),
                       max_per_img=100)


@TASKS.register_module()
class BoxTask(BaseTask):
    """Object detection with mmdet's conventions: the target is the
    sample's ``gt_instances``, the prediction its ``pred_instances``
    (boxes in original image coordinates, scores, labels), so mmdet's
    heads, transforms and metrics (``CocoDetectionMetric``) work on it
    unchanged; a model has at most one box task.

    Its samples may also carry mmdet's semantic map ``gt_sem_seg``
    (``sem_seg``, loaded by mmdet's ``LoadAnnotations(with_seg=True)``),
    which detectors with a semantic head (HTC, SCNet) train on, and, in
    training and prediction, mmdet's precomputed ``proposals`` (loaded by
    ``LoadProposals`` from a dataset's ``proposal_file``), which detectors
    with an RoI head but no RPN (Fast R-CNN) read.

    Args:
        name: The task's name.
    """

    #: The fields of an mmdet-packed sample (``PackDetInputs``) that the
    #: task's samples carry.
    packed_fields = ('gt_instances', 'ignored_instances', 'gt_sem_seg')
    #: The fields of an mmdet-packed sample that a detector reads beside
    #: the features, labelled or not (Fast R-CNN's proposals).
    input_fields = ('proposals', )
    #: The value of ``gt_sem_seg`` pixels that count for nothing (mmdet's
    #: ``seg_pad_value`` and its semantic heads' ``ignore_index``).
    semantic_ignore_index = 255

    @classmethod
    def carry_fields(cls, source: BaseDataElement, target: BaseDataElement,
                     labelled: bool) -> None:
        """Set on ``target`` the :attr:`input_fields` that ``source``
        has, and its :attr:`packed_fields` if ``labelled``."""
        keys = (*cls.packed_fields, *cls.input_fields) if labelled \
            else cls.input_fields
        for key in keys:
            if key in source:
                target.set_field(source.get(key), key)

    @property
    def target_key(self) -> str:
        return 'gt_instances'

    @property
    def sample_fields(self) -> Tuple[str, ...]:
        return (*self.packed_fields, *self.input_fields)

    @property
    def prediction_key(self) -> str:
        return 'pred_instances'

    @property
    def out_channels(self) -> None:
        """The detection head decides (classes and box coding)."""
        return None

    def merge_views(self, outputs: List[InstanceData], metainfos: List[dict],
                    tta_cfg: Optional[dict] = None) -> InstanceData:
        """The boxes of all views (flipped ones flipped back), then
        class-wise NMS, as mmdet's ``DetTTAModel`` merges them.

        Args:
            outputs: Per view, the predicted instances (original image
                coordinates).
            metainfos: Per view, the sample's metainfo.
            tta_cfg: ``nms`` (mmcv's ``batched_nms`` config) and
                ``max_per_img``; mmdet's defaults when None.

        Raises:
            ValueError: For instances with masks (mmdet merges none).
        """
        cfg = dict(DEFAULT_TTA_CFG, **(tta_cfg or {}))
        if any('masks' in output for output in outputs):
            raise ValueError(
                f'task {self.name!r}: instance masks cannot be merged over '
                'test-time views (neither does mmdet\'s DetTTAModel)')
        boxes = torch.cat([
            bbox_flip(output.bboxes, meta['ori_shape'], 'horizontal')
            if flipped(meta) else output.bboxes
            for output, meta in zip(outputs, metainfos)])
        scores = torch.cat([output.scores for output in outputs])
        labels = torch.cat([output.labels for output in outputs])
        if not len(boxes):
            return outputs[0]
        kept, index = batched_nms(boxes, scores, labels, cfg['nms'])
        limit = cfg['max_per_img']
        return InstanceData(bboxes=kept[:limit, :-1],
                            scores=kept[:limit, -1],
                            labels=labels[index][:limit])

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
