"""Batching of images and every task's targets."""
from typing import Optional, Sequence, Union

import torch.nn.functional as F
from mmdet.models.utils import samplelist_boxtype2tensor
from mmengine.model import ImgDataPreprocessor
from mmengine.structures import PixelData

from mmsquad.registry import MODELS
from mmsquad.structures import DENSE_TASKS


@MODELS.register_module()
class MultiTaskDataPreprocessor(ImgDataPreprocessor):
    """Normalise and batch images; pad each dense target with its task's
    ignore value so that padded pixels never count as real values.

    Images are padded at the bottom and right to a common size (a multiple
    of ``pad_size_divisor``). In training every dense target of a sample is
    padded to that size too; in evaluation targets stay as loaded (at the
    original image size, where predictions are compared with them).
    ``batch_input_shape`` and ``pad_shape`` are recorded in each sample's
    metainfo. Detection boxes (mmdet box types) become plain tensors, as
    mmdet's ``DetDataPreprocessor`` leaves them for its heads.

    Args:
        mean: Per-channel mean.
        std: Per-channel std.
        pad_size_divisor: Padded size multiple.
        pad_value: Image padding value.
        bgr_to_rgb: Convert BGR inputs to RGB.
        rgb_to_bgr: Convert RGB inputs to BGR.
        non_blocking: Non-blocking device transfer.
    """

    def __init__(self,
                 mean: Optional[Sequence[Union[float, int]]] = None,
                 std: Optional[Sequence[Union[float, int]]] = None,
                 pad_size_divisor: int = 1,
                 pad_value: Union[float, int] = 0,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 non_blocking: Optional[bool] = False) -> None:
        super().__init__(mean, std, pad_size_divisor, pad_value, bgr_to_rgb,
                         rgb_to_bgr, non_blocking)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        inputs, samples = data['inputs'], data.get('data_samples')
        if samples is None:
            return data
        batch_shape = tuple(inputs.shape[-2:])
        samplelist_boxtype2tensor(samples)
        for sample in samples:
            sample.set_metainfo(dict(batch_input_shape=batch_shape,
                                     pad_shape=batch_shape))
            if not training:
                continue
            for task in sample.labelled_tasks:
                if task not in DENSE_TASKS:
                    continue
                target = sample.get_target(task)
                h, w = target.shape
                if (h, w) == batch_shape:
                    continue
                # PixelData refuses a field of a new size: build a new one.
                padded = F.pad(target.data,
                               (0, batch_shape[1] - w, 0, batch_shape[0] - h),
                               value=DENSE_TASKS[task].ignore_value)
                sample.set_target(task, PixelData(
                    metainfo=target.metainfo, data=padded))
        return data
