"""Random data in the layouts of mmseg's dataset configs, for tests of
mmseg datasets feeding mmsquad tasks."""
import os
import os.path as osp
from typing import Sequence, Tuple

import cv2
import numpy as np


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
