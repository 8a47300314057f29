"""Random data in the layouts of public datasets (mmseg's PASCAL-Context-59,
COCO, NYUD_MT), for tests of other packages' datasets and of the shipped
configs that read them."""
import json
import os
import os.path as osp
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmdet.datasets import CocoDataset
from PIL import Image


def make_pascal_context_59(root: str, sizes: Sequence[Tuple[int, int]],
                           seed: int = 0) -> str:
    """mmseg's PASCAL-Context-59 layout (``JPEGImages/``,
    ``SegmentationClassContext/`` with labels 0..59, 0 the background that
    ``reduce_zero_label`` ignores, ``ImageSets/SegmentationContext/
    {train,val}.txt``) with one image of each of ``sizes`` per split, the
    last of them grayscale; returns ``root``."""
    rng = np.random.default_rng(seed)
    for sub in ('JPEGImages', 'SegmentationClassContext',
                osp.join('ImageSets', 'SegmentationContext')):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for split in ('train', 'val'):
        ids = [f'{split}_{i:03d}' for i in range(len(sizes))]
        for i, (img_id, (h, w)) in enumerate(zip(ids, sizes)):
            shape = (h, w) if i == len(sizes) - 1 else (h, w, 3)
            cv2.imwrite(osp.join(root, 'JPEGImages', f'{img_id}.jpg'),
                        rng.integers(0, 256, shape, dtype=np.uint8))
            cv2.imwrite(
                osp.join(root, 'SegmentationClassContext', f'{img_id}.png'),
                rng.integers(0, 60, (h, w), dtype=np.uint8))
        with open(osp.join(root, 'ImageSets', 'SegmentationContext',
                           f'{split}.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
    return root


def make_coco_detection(root: str, sizes: Sequence[Tuple[int, int]],
                        seed: int = 0, boxes_per_image: int = 3) -> str:
    """COCO's layout (``{train,val}2017/``, ``annotations/
    instances_{train,val}2017.json``, COCO's 80 category names) with one
    image of each of ``sizes`` per split, the last of them grayscale, and
    ``boxes_per_image`` random boxes of random categories on each; returns
    ``root``."""
    rng = np.random.default_rng(seed)
    classes = CocoDataset.METAINFO['classes']
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(classes)]
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    for split in ('train', 'val'):
        folder = f'{split}2017'
        os.makedirs(osp.join(root, folder), exist_ok=True)
        images, annotations = [], []
        for i, (h, w) in enumerate(sizes):
            name = f'{i:012d}.jpg'
            shape = (h, w) if i == len(sizes) - 1 else (h, w, 3)
            cv2.imwrite(osp.join(root, folder, name),
                        rng.integers(0, 256, shape, dtype=np.uint8))
            images.append(dict(id=i + 1, file_name=name, height=h, width=w))
            for _ in range(boxes_per_image):
                bw, bh = rng.uniform(0.2, 0.6) * w, rng.uniform(0.2, 0.6) * h
                x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=i + 1, iscrowd=0,
                    category_id=int(rng.integers(1, len(classes) + 1)),
                    bbox=[x, y, bw, bh], area=bw * bh))
        with open(osp.join(root, 'annotations',
                           f'instances_{folder}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations,
                           categories=categories), f)
    return root


def make_nyud_mt(root: str, sizes: Sequence[Tuple[int, int]],
                 seed: int = 0) -> str:
    """The NYUD_MT layout (``images/``, ``gt_sets/{train,val}.txt``,
    ``segmentation/`` with labels 0..40, ``depth/``, ``normals/`` and
    ``edge/`` as ``.npy``) with one image of each of ``sizes`` per split;
    returns ``root``."""
    rng = np.random.default_rng(seed)
    for sub in ('images', 'gt_sets', 'segmentation', 'depth', 'normals',
                'edge'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for split in ('train', 'val'):
        ids = [f'{split}{i}' for i in range(len(sizes))]
        with open(osp.join(root, 'gt_sets', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(ids))
        for img_id, (h, w) in zip(ids, sizes):
            path = osp.join(root, '{}', img_id + '.{}').format
            cv2.imwrite(path('images', 'jpg'),
                        rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            Image.fromarray(rng.integers(0, 41, (h, w), dtype=np.uint8)
                            ).save(path('segmentation', 'png'))
            np.save(path('depth', 'npy'),
                    rng.uniform(0.5, 10, (h, w)).astype(np.float32))
            normals = rng.normal(size=(h, w, 3)).astype(np.float32)
            np.save(path('normals', 'npy'),
                    normals / np.linalg.norm(normals, axis=2, keepdims=True))
            np.save(path('edge', 'npy'),
                    (rng.random((h, w)) > 0.9).astype(np.float32))
    return root
