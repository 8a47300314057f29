"""Packing of an image and its targets into a MultiTaskDataSample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from mmsquad.registry import TRANSFORMS
from mmsquad.structures import MultiTaskDataSample, get_dense_task


@TRANSFORMS.register_module()
class PackMultiTaskInputs(BaseTransform):
    """Pack ``img`` as a (3, H, W) tensor and every ``gt_<task>`` as a
    (C, H, W) target: int64 for label and binary tasks, float32 otherwise.

    Args:
        meta_keys: Keys copied into the data sample's metainfo.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_id', 'img_path',
                                             'ori_shape', 'img_shape',
                                             'scale_factor', 'flip',
                                             'flip_direction')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(
            np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = MultiTaskDataSample()
        for task in results.get('dense_tasks', []):
            target = results[f'gt_{task}']
            if target.ndim == 2:
                target = target[..., None]
            tensor = torch.from_numpy(
                np.ascontiguousarray(target.transpose(2, 0, 1)))
            dtype = torch.int64 if get_dense_task(task).is_integer \
                else torch.float32
            sample.set_target(task, PixelData(data=tensor.to(dtype)))
        sample.set_metainfo(
            {k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)
