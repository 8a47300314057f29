"""Loading of the dense targets from their published file formats."""
from typing import Dict, Optional

import cv2
import mmcv
import numpy as np
import scipy.io as sio
from mmcv.transforms import BaseTransform
from skimage.morphology import thin

from mmsquad.registry import TRANSFORMS
from mmsquad.tasks import IGNORE_INDEX

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


def _read_png(path: str, flag: str = 'unchanged') -> np.ndarray:
    # pillow keeps the indices of palette PNGs (cv2 would expand them).
    img = mmcv.imread(path, flag=flag, channel_order='rgb', backend='pillow')
    if img is None:
        raise OSError(f'cannot decode image {path}')
    return img


def _load_mat(path: str, key: str):
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
    objects = _load_mat(path, 'anno')[0][0][1][0]
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


def edges_from_label_map(label_map: np.ndarray) -> np.ndarray:
    """Thin boundaries of a label map: Laplacian != 0, then thinning."""
    laplacian = cv2.Laplacian(label_map.astype(np.float64), cv2.CV_64F)
    return thin(np.abs(laplacian) > 0).astype(np.uint8)


def normals_from_png(normals_png: np.ndarray,
                     label_map: np.ndarray) -> np.ndarray:
    """Unit normals from an RGB png, ignored off the valid classes."""
    normals = 2.0 * normals_png.astype(np.float32) / 255.0 - 1.0
    valid = np.isin(label_map, list(NORMALS_VALID_CLASSES))
    normals[~valid] = IGNORE_INDEX
    return normals


def load_npy(path: str) -> np.ndarray:
    """An array saved with ``np.save``."""
    try:
        return np.load(path)
    except Exception as exc:
        raise OSError(f'cannot read .npy file {path}: {exc}') from exc


def shifted_labels(path: str) -> np.ndarray:
    """NYUD labels: 0 (unlabelled) -> 255, every other class minus one."""
    label = _read_png(path).astype(np.int32) - 1
    label[label < 0] = IGNORE_INDEX
    return label.astype(np.uint8)


def unit_vectors(path: str) -> np.ndarray:
    """Normals from ``.npy`` (H, W, 3); zero vectors are ignored."""
    normals = load_npy(path).astype(np.float32)
    normals[np.linalg.norm(normals, axis=-1) < 1e-6] = IGNORE_INDEX
    return normals


def positive_depth(path: str) -> np.ndarray:
    """Depth in metres from ``.npy``; missing (<= 0) depth is ignored."""
    depth = load_npy(path).astype(np.float32)
    depth[depth <= 0] = IGNORE_INDEX
    return depth


def read_class_index(path: str) -> np.ndarray:
    """An image's class index, the only content of a text file."""
    try:
        with open(path) as f:
            return np.array(int(f.read().strip()))
    except ValueError as exc:
        raise ValueError(f'{path} must hold one class index: {exc}') from exc


# Readers by annotation format: (path, LabelMap or None) -> array or None.
ANNOTATION_READERS = {
    'label_png': lambda path, _: _read_png(path),
    'shifted_label_png': lambda path, _: shifted_labels(path),
    'pascal_parts_mat': lambda path, _: load_human_parts(path),
    'saliency_png': lambda path, _: (
        _read_png(path, 'grayscale').astype(np.float32) / 255 > 0.5
    ).astype(np.uint8),
    'masked_normals_png': lambda path, label_map: normals_from_png(
        _read_png(path, 'color'), label_map),
    'label_map_edges': lambda path, label_map: edges_from_label_map(
        label_map),
    'normals_npy': lambda path, _: unit_vectors(path),
    'depth_npy': lambda path, _: positive_depth(path),
    'binary_npy': lambda path, _: (load_npy(path) > 0).astype(np.uint8),
    'class_index_txt': lambda path, _: read_class_index(path),
}

#: Formats read with the PASCAL-Context ``LabelMap`` of the image.
LABEL_MAP_FORMATS = ('masked_normals_png', 'label_map_edges')


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
    """Load every target named in ``ann_info`` into a ``gt_<task>`` array.

    ``ann_info`` maps each task to ``dict(path=..., format=...)`` with a
    format of :data:`ANNOTATION_READERS`; ``label_map_path`` (PASCAL-Context
    ``LabelMap``) is read once when a format needs it. Label and binary maps
    become (H, W) uint8, normals (H, W, 3) float32, depth (H, W) float32;
    ignored pixels hold 255; an image's class index is a 0-d array. A task
    without a label for this image (human parts without a person) is left
    out. ``loaded_tasks`` lists what was loaded. Every map must match the
    size of the image file (``ori_shape``); in test pipelines loading after a resize keeps the
    targets at the original size, where predictions are evaluated.
    """

    def transform(self, results: dict) -> dict:
        label_map = None
        if results.get('label_map_path'):
            label_map = _load_mat(results['label_map_path'], 'LabelMap')
        loaded = []
        for task, info in results['ann_info'].items():
            target = ANNOTATION_READERS[info['format']](info['path'],
                                                        label_map)
            if target is None:
                continue
            expected = tuple(results['ori_shape'][:2])
            if target.ndim >= 2 and target.shape[:2] != expected:
                raise ValueError(
                    f'{info["path"]}: {task} target size {target.shape[:2]} '
                    f'does not match the image {results["img_path"]} of size '
                    f'{expected}')
            results[f'gt_{task}'] = target
            loaded.append(task)
        results['loaded_tasks'] = loaded
        return results
