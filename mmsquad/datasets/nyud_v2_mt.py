"""NYUD-v2 multi-task (NYUD_MT) in its published layout, with the reader
of its label format."""
import os.path as osp

import numpy as np

from mmsquad.registry import ANNOTATION_READERS, DATASETS
from mmsquad.tasks import IGNORE_INDEX
from mmsquad.tasks.presets import TasksCfg
from .base_dense_dataset import BaseDenseMTDataset
from .transforms.loading import read_png

@ANNOTATION_READERS.register_module(name='shifted_label_png')
def read_shifted_label_png(path: str, results: dict) -> np.ndarray:
    """NYUD labels: 0 (unlabelled) -> 255, every other class minus one."""
    label = read_png(path).astype(np.int32) - 1
    label[label < 0] = IGNORE_INDEX
    return label.astype(np.uint8)


#: The NYUD-v2 benchmark's semseg (40 classes) and depth.
NYUD_TASKS = dict(semseg=dict(type='LabelMapTask', num_classes=40),
                  depth=dict(type='ScalarMapTask', unit='m'))


@DATASETS.register_module()
class NYUDv2MTDataset(BaseDenseMTDataset):
    """NYUD-v2 for semseg (40 classes), depth, normals and edges.

    Segmentation labels are shifted: 0 (unlabelled) becomes 255 and every
    other label drops by one. Depth <= 0 and zero normals are ignored.

    Args:
        data_root: The ``NYUD_MT`` directory.
        split: ``'train'`` or ``'val'`` (``gt_sets/<split>.txt``).
        tasks: Which targets to load (preset names or ``{name: kind
            config}``).
        **kwargs: Passed to :class:`BaseDenseMTDataset` (``annotations``)
            and to :class:`~mmengine.dataset.BaseDataset`.
    """

    LAYOUT = """NYUD_MT/
  images/<id>.jpg
  gt_sets/{train,val}.txt
  segmentation/<id>.png
  depth/<id>.npy
  normals/<id>.npy
  edge/<id>.npy"""
    TASK_FILES = {
        'semseg': (osp.join('segmentation', '{id}.png'),
                   'shifted_label_png'),
        'depth': (osp.join('depth', '{id}.npy'), 'depth_npy'),
        'normals': (osp.join('normals', '{id}.npy'), 'normals_npy'),
        'edge': (osp.join('edge', '{id}.npy'), 'binary_npy'),
    }

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 tasks: TasksCfg = NYUD_TASKS,
                 **kwargs) -> None:
        super().__init__(data_root, split, tasks, **kwargs)

    def split_file(self) -> str:
        return osp.join(self.data_root, 'gt_sets', f'{self.split}.txt')

    def image_path(self, img_id: str) -> str:
        return osp.join(self.data_root, 'images', f'{img_id}.jpg')
