"""The PASCAL-Context training pipeline as the published SquadNet code runs
it (the multi-task codebase of Vandenhende et al., after ASTMT), written
again from its description for timing in the same run as mmsquad's: PIL
decoding to float32 arrays, normals masked class by class from the
``LabelMap``, then a flip, one rotation+zoom and one resize to 512x512 per
target with OpenCV (bicubic image and normals, nearest labels), normals
turned by the angle and renormalised, ignore regions, tensors and the
image normalised. It is a cost model, not a second implementation of the
protocol: its outputs are not compared with mmsquad's.
"""
import math
from typing import Dict, Sequence

import cv2
import numpy as np
import scipy.io as sio
import torch
from PIL import Image

from mmsquad.datasets.pascal_context_mt import (NORMALS_VALID_CLASSES,
                                                load_human_parts)

LABELS = ('semseg', 'human_parts', 'sal')
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def _png(path: str) -> np.ndarray:
    return np.array(Image.open(path)).astype(np.float32)


def load(info: dict) -> Dict[str, np.ndarray]:
    """One sample as the published dataset class loads it, from an
    mmsquad data info (``img_path``, ``ann_info``, ``label_map_path``)."""
    paths = {task: value['path'] for task, value in info['ann_info'].items()}
    sample = {'image': np.array(Image.open(info['img_path']).convert(
        'RGB')).astype(np.float32)}
    sample['semseg'] = _png(paths['semseg'])
    parts = load_human_parts(paths['human_parts'])
    sample['human_parts'] = np.zeros(sample['semseg'].shape, np.float32) \
        if parts is None else parts.astype(np.float32)
    sample['sal'] = (_png(paths['sal']) / 255.0 > 0.5).astype(np.float32)
    levels = _png(paths['normals'])
    levels = 2.0 * levels / 255.0 - 1.0
    labels = sio.loadmat(info['label_map_path'])['LabelMap']
    normals = np.zeros_like(levels)
    for label in np.unique(labels):
        if label in NORMALS_VALID_CLASSES:
            normals[labels == label, :] = levels[labels == label, :]
    sample['normals'] = normals
    return sample


def transform(sample: Dict[str, np.ndarray],
              size: Sequence[int] = (512, 512)) -> Dict[str, torch.Tensor]:
    """Flip, rotation+zoom, resize, ignore regions, tensors, normalisation
    (the published training transforms, in their order)."""
    if np.random.random() < 0.5:
        for key, value in sample.items():
            value = cv2.flip(value, flipCode=1)
            if key == 'normals':
                value[:, :, 0] *= -1
            sample[key] = value
    angle = np.random.uniform(-20, 20)
    zoom = np.random.uniform(0.75, 1.25)
    for key, value in sample.items():
        h, w = value.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, zoom)
        flag = cv2.INTER_NEAREST if key in LABELS else cv2.INTER_CUBIC
        value = cv2.warpAffine(value, matrix, (w, h), flags=flag)
        if key == 'normals':
            in_plane = np.arctan2(value[:, :, 0], value[:, :, 1])
            length = np.sqrt(value[:, :, 0] ** 2 + value[:, :, 1] ** 2)
            turn = angle * 2 * math.pi / 360
            value[:, :, 0] = np.sin(in_plane + turn) * length
            value[:, :, 1] = np.cos(in_plane + turn) * length
        sample[key] = value
    for key, value in sample.items():
        flag = cv2.INTER_NEAREST if key in LABELS else cv2.INTER_CUBIC
        value = cv2.resize(value, tuple(size), interpolation=flag)
        if key == 'normals':
            norm = np.linalg.norm(value, ord=2, axis=2, keepdims=True)
            value = value / (norm + np.finfo(np.float32).eps)
        sample[key] = value
    norm = np.linalg.norm(sample['normals'], ord=2, axis=2)
    sample['normals'][norm == 0] = 255
    if (sample['human_parts'] == 0).all():
        sample['human_parts'] = np.full_like(sample['human_parts'], 255)
    tensors = {}
    for key, value in sample.items():
        if value.ndim == 2:
            value = value[:, :, np.newaxis]
        tensors[key] = torch.from_numpy(value.transpose((2, 0, 1)).copy())
    image = tensors['image'] / 255.0
    tensors['image'] = (image - torch.from_numpy(MEAN)[:, None, None]) / \
        torch.from_numpy(STD)[:, None, None]
    return tensors
