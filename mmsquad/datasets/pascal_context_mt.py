"""PASCAL-Context multi-task (PASCAL_MT) in its published layout."""
import os.path as osp
from typing import List, Sequence

from mmengine.dataset import BaseDataset

from mmsquad.registry import DATASETS
from mmsquad.structures import check_tasks

PASCAL_MT_LAYOUT = """PASCAL_MT/
  JPEGImages/<id>.jpg
  ImageSets/Context/{train,val}.txt
  semseg/VOC12/<id>.png (or semseg/pascal-context/<id>.png)
  human_parts/<id>.mat
  sal_distill/<id>.png
  normals_distill/<id>.png
  pascal-context/trainval/<id>.mat"""

PASCAL_MT_TASKS = ('semseg', 'human_parts', 'sal', 'normals', 'edge')


@DATASETS.register_module()
class PascalContextMTDataset(BaseDataset):
    """PASCAL-Context for semseg, human parts, saliency, normals and edges.

    Reads the PASCAL_MT archive as distributed (see ``PASCAL_MT_LAYOUT``).
    Each data info holds the image path and, per requested task, the files
    the loading transform needs.

    Args:
        data_root: The ``PASCAL_MT`` directory.
        split: ``'train'`` or ``'val'`` (``ImageSets/Context/<split>.txt``).
        tasks: Which targets to load.
        **kwargs: Passed to :class:`~mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(
        classes=('background', 'aeroplane', 'bicycle', 'bird', 'boat',
                 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
                 'diningtable', 'dog', 'horse', 'motorbike', 'person',
                 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'),
        part_classes=('background', 'head', 'torso', 'upper_arm',
                      'lower_arm', 'upper_leg', 'lower_leg'))

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 tasks: Sequence[str] = ('semseg', 'human_parts', 'sal',
                                         'normals'),
                 **kwargs) -> None:
        self.split = split
        self.tasks = check_tasks(tasks)
        unsupported = [t for t in self.tasks if t not in PASCAL_MT_TASKS]
        if unsupported:
            raise KeyError(f'PASCAL_MT has no targets for {unsupported}; it '
                           f'provides {list(PASCAL_MT_TASKS)}')
        super().__init__(data_root=data_root, **kwargs)

    def _require(self, path: str, what: str) -> str:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{what} {path} does not exist; expected the PASCAL_MT '
                f'layout:\n{PASCAL_MT_LAYOUT}')
        return path

    def load_data_list(self) -> List[dict]:
        root = self.data_root
        split_file = self._require(
            osp.join(root, 'ImageSets', 'Context', f'{self.split}.txt'),
            'split file')
        with open(split_file) as f:
            ids = [line.strip() for line in f if line.strip()]
        return [self._data_info(i, split_file) for i in ids]

    def _data_info(self, img_id: str, split_file: str) -> dict:
        root = self.data_root
        img_path = osp.join(root, 'JPEGImages', f'{img_id}.jpg')
        if not osp.isfile(img_path):
            raise FileNotFoundError(
                f'image id {img_id!r} listed in {split_file} has no image '
                f'{img_path}')
        info = dict(img_id=img_id, img_path=img_path, tasks=self.tasks,
                    ann_paths={})
        label_map = osp.join(root, 'pascal-context', 'trainval',
                             f'{img_id}.mat')
        for task in self.tasks:
            paths = info['ann_paths']
            if task == 'semseg':
                voc = osp.join(root, 'semseg', 'VOC12', f'{img_id}.png')
                paths[task] = voc if osp.isfile(voc) else self._require(
                    osp.join(root, 'semseg', 'pascal-context',
                             f'{img_id}.png'), 'semseg label')
            elif task == 'human_parts':
                paths[task] = self._require(
                    osp.join(root, 'human_parts', f'{img_id}.mat'),
                    'human parts annotation')
            elif task == 'sal':
                paths[task] = self._require(
                    osp.join(root, 'sal_distill', f'{img_id}.png'),
                    'saliency map')
            elif task == 'normals':
                paths[task] = self._require(
                    osp.join(root, 'normals_distill', f'{img_id}.png'),
                    'normals map')
                paths['label_map'] = self._require(label_map, 'LabelMap')
            elif task == 'edge':
                paths['label_map'] = self._require(label_map, 'LabelMap')
        return info
