"""Any mmdet neck + dense head as the detection task of a multi-task
model."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample


@MODELS.register_module()
class DetectionTaskHead(BaseModule):
    """Detect objects from the multi-level features of the ``det`` task
    with an mmdet neck (optional) and an mmdet dense head, both built from
    config (``_scope_='mmdet'``), so any one-stage head that works from
    multi-level features drops in by config.

    Only samples that carry ``gt_instances`` train the detector (samples of
    an enhancement-only set have none). A batch without any still runs the
    head once and returns zero losses, so every parameter stays in the
    graph under DDP. Per-level loss lists are summed into one value per
    loss name.

    Args:
        task: Task name (``'det'``).
        head: Config of the mmdet dense head (e.g. ``RetinaHead``).
        neck: Config of the mmdet neck (e.g. ``FPN``) or None.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 task: str,
                 head: dict,
                 neck: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.task = task
        self.neck = None if neck is None else MODELS.build(neck)
        self.head = MODELS.build(head)

    def _neck(self, feats: Sequence[Tensor]) -> tuple:
        return tuple(feats) if self.neck is None else self.neck(list(feats))

    def forward(self, feats: Sequence[Tensor]) -> tuple:
        """Raw outputs of the mmdet head (per-level scores and boxes)."""
        return self.head(self._neck(feats))

    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """mmdet's losses on the samples with detection labels."""
        labelled = [i for i, s in enumerate(data_samples)
                    if 'gt_instances' in s]
        scale = 1.0
        if not labelled:  # zero losses of the same names, graph intact
            labelled, scale = [0], 0.0
            empty = MultiTaskDataSample(metainfo=data_samples[0].metainfo)
            empty.gt_instances = InstanceData(
                bboxes=feats[0].new_zeros((0, 4)),
                labels=torch.zeros(0, dtype=torch.long,
                                   device=feats[0].device))
            samples = [empty]
        else:
            samples = [data_samples[i] for i in labelled]
        if len(labelled) < len(data_samples):
            index = torch.tensor(labelled, device=feats[0].device)
            feats = [f.index_select(0, index) for f in feats]
        x = self._neck(feats)
        losses = self.head.loss(x, samples)
        return {name: scale * (sum(value) if isinstance(value, (list, tuple))
                               else value)
                for name, value in losses.items()}

    def predict_samples(self, feats: Sequence[Tensor],
                        data_samples: List[MultiTaskDataSample],
                        batch_img_shape: Sequence[int]) -> None:
        """Set mmdet's ``pred_instances`` (boxes in original image
        coordinates, scores, labels) on every sample.

        As mmdet's dense heads predict (``forward``, then
        ``predict_by_feat``), but the box decoding and NMS run in float32
        outside any autocast: mmcv's NMS refuses reduced-precision boxes.
        """
        outs = [[_float(o) for o in level] if isinstance(level, (list, tuple))
                else _float(level) for level in self(feats)]
        with torch.autocast(feats[0].device.type, enabled=False):
            results = self.head.predict_by_feat(
                *outs, batch_img_metas=[s.metainfo for s in data_samples],
                rescale=True)
        for sample, result in zip(data_samples, results):
            sample.pred_instances = result


def _float(value):
    """A floating tensor as float32; anything else unchanged."""
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.float()
    return value
