"""Packing of an image and its targets into a MultiTaskDataSample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmsquad.registry import TRANSFORMS
from mmsquad.structures import MultiTaskDataSample
from .targets import check_aligned, loaded_targets


@TRANSFORMS.register_module()
class PackMultiTaskInputs(BaseTransform):
    """Pack ``img`` as a (3, H, W) tensor and every loaded target as its
    task kind packs it (dense maps: a (C, H, W) ``PixelData`` of the kind's
    dtype that records its ``ignore_index``; image labels: a ``LabelData``).
    An image resized, cropped or mirrored since its targets were last
    aligned with it (by another package's transform) is an error.

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
        check_aligned(results)
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(
            np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = MultiTaskDataSample()
        for key, kind in loaded_targets(results):
            sample.set_field(kind.pack(results[key]), key)
        sample.set_metainfo(
            {k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)
