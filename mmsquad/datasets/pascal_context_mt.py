"""PASCAL-Context multi-task (PASCAL_MT) in its published layout, with the
readers of its own file formats."""
import os.path as osp
from typing import Dict, Optional

import cv2
import numpy as np
import scipy.io as sio
from skimage.morphology import thin

from mmsquad.functional import fill_pixels, look_up
from mmsquad.registry import ANNOTATION_READERS, DATASETS
from mmsquad.tasks import IGNORE_INDEX
from mmsquad.tasks.presets import TasksCfg
from .base_dense_dataset import BaseDenseMTDataset
from .image_checks import require_file
from .transforms.loading import read_png

LABEL_MAP = osp.join('pascal-context', 'trainval', '{id}.mat')

# PASCAL-Part part names -> the 6-part grouping (0 is background).
HUMAN_PART_GROUPS: Dict[str, int] = {
    **dict.fromkeys(('hair', 'head', 'lear', 'rear', 'lebrow', 'rebrow',
                     'leye', 'reye', 'mouth', 'nose'), 1),
    **dict.fromkeys(('torso', 'neck'), 2),
    **dict.fromkeys(('luarm', 'ruarm'), 3),
    **dict.fromkeys(('llarm', 'rlarm', 'lhand', 'rhand'), 4),
    **dict.fromkeys(('luleg', 'ruleg'), 5),
    **dict.fromkeys(('llleg', 'rlleg', 'lfoot', 'rfoot'), 6),
}
PERSON_CLASS = 15

# PASCAL-Context labels on which distilled normals are valid (NYUD classes
# plus tvmonitor).
NORMALS_VALID_CLASSES = frozenset((
    3, 4, 6, 9, 10, 11, 13, 15, 17, 18, 22, 23, 29, 30, 33, 34, 36, 37, 38,
    39, 41, 43, 46, 49, 50, 51, 53, 55, 56, 59, 61, 62, 65, 66, 68, 69, 72,
    73, 78, 83, 84, 85, 87, 88, 95, 96, 101, 104, 105, 107, 111, 113, 115,
    122, 124, 135, 141, 142, 143, 146, 150, 154, 157, 158, 159, 165, 172,
    174, 181, 183, 184, 191, 193, 195, 197, 199, 202, 213, 215, 216, 219,
    220, 223, 225, 228, 230, 232, 233, 238, 239, 242, 243, 246, 250, 251,
    252, 255, 260, 261, 263, 269, 272, 273, 275, 281, 283, 284, 285, 286,
    287, 288, 290, 291, 292, 293, 295, 304, 307, 309, 310, 314, 315, 319,
    323, 329, 330, 331, 336, 342, 345, 349, 350, 351, 352, 355, 357, 368,
    370, 371, 374, 379, 380, 383, 384, 397, 401, 403, 405, 407, 408, 411,
    412, 413, 414, 417, 419, 421, 423, 427, 429, 430, 432, 440, 441, 442,
    443, 444, 446, 454, 457))


#: ``NORMALS_VALID_CLASSES`` as a table over label values (the last entry,
#: for every larger label, False).
NORMALS_VALID_LABELS = np.zeros(max(NORMALS_VALID_CLASSES) + 2, bool)
NORMALS_VALID_LABELS[list(NORMALS_VALID_CLASSES)] = True
#: A normals PNG's 8-bit levels as vector components in [-1, 1] (float32:
#: ``2 * level / 255 - 1``).
NORMALS_OF_LEVELS = 2.0 * np.arange(256, dtype=np.float32) / 255.0 - 1.0


def load_mat(path: str, key: str):
    """The entry ``key`` of a MATLAB file."""
    try:
        mat = sio.loadmat(path)
    except Exception as exc:
        raise OSError(f'cannot read .mat file {path}: {exc}') from exc
    if key not in mat:
        raise KeyError(f'{path} has no {key!r} entry')
    return mat[key]


def load_human_parts(path: str) -> Optional[np.ndarray]:
    """The 6-part map of a PASCAL-Part ``.mat`` file, or None when no person
    object has parts."""
    objects = load_mat(path, 'anno')[0][0][1][0]
    target = None
    for obj in objects:
        parts = obj[3]
        if int(obj[1][0][0]) != PERSON_CLASS or len(parts) == 0:
            continue
        if target is None:
            target = np.zeros(obj[2].shape, dtype=np.uint8)
        for part in parts[0]:
            name = str(part[0][0])
            if name not in HUMAN_PART_GROUPS:
                raise KeyError(f'{path}: unknown human part {name!r}')
            target[part[1].astype(bool)] = HUMAN_PART_GROUPS[name]
    return target


def label_map(results: dict) -> np.ndarray:
    """The PASCAL-Context ``LabelMap`` of the image (``label_map_path`` of
    its data info), read once per image and kept in ``results``."""
    if 'label_map' not in results:
        results['label_map'] = load_mat(results['label_map_path'],
                                        'LabelMap')
    return results['label_map']


@ANNOTATION_READERS.register_module(name='pascal_parts_mat')
def read_pascal_parts_mat(path: str, results: dict) -> Optional[np.ndarray]:
    """The human parts of a PASCAL-Part file (see :func:`load_human_parts`).
    """
    return load_human_parts(path)


@ANNOTATION_READERS.register_module(name='masked_normals_png')
def read_masked_normals_png(path: str, results: dict) -> np.ndarray:
    """Unit normals from an RGB png, ignored off the classes they are
    distilled for (:data:`NORMALS_VALID_CLASSES` of the ``LabelMap``)."""
    normals = look_up(read_png(path, 'color'), NORMALS_OF_LEVELS)
    labels = label_map(results)
    valid = NORMALS_VALID_LABELS[np.minimum(labels, len(
        NORMALS_VALID_LABELS) - 1)] if labels.dtype.kind == 'u' else \
        np.isin(labels, list(NORMALS_VALID_CLASSES))
    return fill_pixels(normals, ~valid, IGNORE_INDEX)


@ANNOTATION_READERS.register_module(name='label_map_edges')
def read_label_map_edges(path: str, results: dict) -> np.ndarray:
    """Thin boundaries of the ``LabelMap``: Laplacian != 0, then thinning.
    """
    laplacian = cv2.Laplacian(label_map(results).astype(np.float64),
                              cv2.CV_64F)
    return thin(np.abs(laplacian) > 0).astype(np.uint8)


#: Formats that read the image's ``LabelMap``.
LABEL_MAP_FORMATS = ('masked_normals_png', 'label_map_edges')


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

    CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat',
               'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
               'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor')
    PART_CLASSES = ('background', 'head', 'torso', 'upper_arm', 'lower_arm',
                    'upper_leg', 'lower_leg')
    METAINFO = dict(classes=CLASSES, part_classes=PART_CLASSES,
                    task_classes=dict(semseg=CLASSES,
                                      human_parts=PART_CLASSES))
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
        'sal': (osp.join('sal_distill', '{id}.png'), 'binary_png'),
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
            info['label_map_path'] = require_file(
                osp.join(self.data_root, LABEL_MAP.format(id=info['img_id'])),
                'LabelMap')
        return info
