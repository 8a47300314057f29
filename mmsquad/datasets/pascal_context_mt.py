"""PASCAL-Context multi-task (PASCAL_MT) in its published layout."""
import os.path as osp
from mmsquad.registry import DATASETS
from mmsquad.tasks.presets import TasksCfg
from .base_dense_dataset import BaseDenseMTDataset
from .transforms.loading import LABEL_MAP_FORMATS

LABEL_MAP = osp.join('pascal-context', 'trainval', '{id}.mat')


@DATASETS.register_module()
class PascalContextMTDataset(BaseDenseMTDataset):
    """PASCAL-Context for semseg, human parts, saliency, normals and edges.

    Semantic labels come from ``semseg/VOC12`` and, where an image has no
    file there, from ``semseg/pascal-context``. Human parts use the 6-part
    grouping; images without a person with parts carry no parts label.
    Normals are valid only on the PASCAL-Context classes shared with NYUD;
    edges are the thinned boundaries of the ``LabelMap``.

    Args:
        data_root: The ``PASCAL_MT`` directory.
        split: ``'train'`` or ``'val'`` (``ImageSets/Context/<split>.txt``).
        tasks: Which targets to load (preset names or ``{name: kind
            config}``).
        **kwargs: Passed to :class:`BaseDenseMTDataset` (``annotations``)
            and to :class:`~mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(
        classes=('background', 'aeroplane', 'bicycle', 'bird', 'boat',
                 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
                 'diningtable', 'dog', 'horse', 'motorbike', 'person',
                 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'),
        part_classes=('background', 'head', 'torso', 'upper_arm',
                      'lower_arm', 'upper_leg', 'lower_leg'))
    LAYOUT = """PASCAL_MT/
  JPEGImages/<id>.jpg
  ImageSets/Context/{train,val}.txt
  semseg/VOC12/<id>.png (or semseg/pascal-context/<id>.png)
  human_parts/<id>.mat
  sal_distill/<id>.png
  normals_distill/<id>.png
  pascal-context/trainval/<id>.mat"""
    TASK_FILES = {
        'semseg': ((osp.join('semseg', 'VOC12', '{id}.png'),
                    osp.join('semseg', 'pascal-context', '{id}.png')),
                   'label_png'),
        'human_parts': (osp.join('human_parts', '{id}.mat'),
                        'pascal_parts_mat'),
        'sal': (osp.join('sal_distill', '{id}.png'), 'saliency_png'),
        'normals': (osp.join('normals_distill', '{id}.png'),
                    'masked_normals_png'),
        'edge': (LABEL_MAP, 'label_map_edges'),
    }

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 tasks: TasksCfg = ('semseg', 'human_parts', 'sal',
                                    'normals'),
                 **kwargs) -> None:
        super().__init__(data_root, split, tasks, **kwargs)

    def split_file(self) -> str:
        return osp.join(self.data_root, 'ImageSets', 'Context',
                        f'{self.split}.txt')

    def image_path(self, img_id: str) -> str:
        return osp.join(self.data_root, 'JPEGImages', f'{img_id}.jpg')

    def extra_info(self, info: dict) -> dict:
        formats = {self.annotation_files[t][1] for t in self.tasks}
        if formats & set(LABEL_MAP_FORMATS):
            info['label_map_path'] = self.require(
                osp.join(self.data_root, LABEL_MAP.format(id=info['img_id'])),
                'LabelMap')
        return info
