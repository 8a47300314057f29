"""Loading of the dense targets: readers of common annotation formats
(registered in ``ANNOTATION_READERS``) and the transform that runs them.

A reader is a function ``(path, results) -> array or None`` registered by
format name; ``results`` is the pipeline's dict of the image (readers
that need more than their file, such as PASCAL's, find it there). The
readers of the published layouts live with their datasets
(:mod:`..pascal_context_mt`, :mod:`..nyud_v2_mt`); a new format needs a
reader registered in a module of one's own::

    from mmsquad.registry import ANNOTATION_READERS

    @ANNOTATION_READERS.register_module(name='my_format')
    def read_my_format(path: str, results: dict) -> np.ndarray:
        ...

imported by the config (``custom_imports = dict(imports=['my_module'])``).
"""
from typing import Callable, Optional

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmsquad.registry import ANNOTATION_READERS, TRANSFORMS
from mmsquad.tasks import IGNORE_INDEX
from mmsquad.utils.image_files import STORED_ORDER
from .targets import record_aligned

#: ``(path, results) -> array`` (None: the image has no label of the task).
Reader = Callable[[str, dict], Optional[np.ndarray]]


def annotation_reader(fmt: str) -> Reader:
    """The reader registered for the annotation format ``fmt``.

    Raises:
        KeyError: For a format no reader is registered for, naming the
            registered ones and how to add one.
    """
    reader = ANNOTATION_READERS.get(fmt)
    if reader is None:
        raise KeyError(
            f'no annotation reader is registered for the format {fmt!r}; '
            f'registered: {sorted(ANNOTATION_READERS.module_dict)}. Register '
            'one in a module of your own with '
            "@ANNOTATION_READERS.register_module(name='...') and import it "
            "from the config: custom_imports = dict(imports=['<module>'])")
    return reader


#: PNG colour types (the IHDR byte) that OpenCV decodes as stored, by
#: decoding flag: 8-bit grey for ``'grayscale'``, 8-bit RGB for ``'color'``.
PNG_AS_STORED = {'grayscale': 0, 'color': 2}


def read_png(path: str, flag: str = 'unchanged') -> np.ndarray:
    """A PNG as stored (palette PNGs keep their indices: pillow, not cv2,
    which would expand them), in stored pixel order whatever its EXIF
    orientation. An 8-bit PNG already stored as asked (grey for
    ``'grayscale'``, RGB for ``'color'``: its header says so) is decoded
    by OpenCV, which gives the same pixels without pillow's copies; a
    16-bit PNG asked as 8-bit grey or RGB is scaled to 8 bits
    (:func:`_sixteen_bit_as_eight`); anything else (palette, alpha, a
    conversion to do, 16-bit as stored) by pillow. The file is read once
    either way."""
    with open(path, 'rb') as f:
        content = f.read()
    # The IHDR chunk: bit depth at byte 24, colour type at byte 25.
    header = content[:8] == b'\x89PNG\r\n\x1a\n' and len(content) > 25
    if header and flag in PNG_AS_STORED and content[24] == 16:
        return _sixteen_bit_as_eight(content, path, flag)
    if header and flag in PNG_AS_STORED and content[24] == 8 and \
            content[25] == PNG_AS_STORED[flag]:
        img = cv2.imdecode(np.frombuffer(content, np.uint8),
                           cv2.IMREAD_UNCHANGED)
        if img is not None and flag == 'color':
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        img = mmcv.imfrombytes(content, flag=STORED_ORDER.get(flag, flag),
                               channel_order='rgb', backend='pillow')
    if img is None:
        raise OSError(f'cannot decode image {path}')
    return img


def _sixteen_bit_as_eight(content: bytes, path: str, flag: str
                          ) -> np.ndarray:
    """A 16-bit PNG read as 8-bit grey or RGB (``flag``), its levels scaled
    (``round(v * 255 / 65535)``: a level ``v * 257`` reads as ``v``).

    pillow clips a 16-bit grey PNG converted to 8 bits (every level above
    255 becomes 255), so a 16-bit soft map would read as nearly all white.
    """
    img = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise OSError(f'cannot decode image {path}')
    img = ((img.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    channels = 1 if img.ndim == 2 else img.shape[2]
    conversion = {
        ('grayscale', 3): cv2.COLOR_BGR2GRAY,
        ('grayscale', 4): cv2.COLOR_BGRA2GRAY,
        ('color', 1): cv2.COLOR_GRAY2RGB,
        ('color', 3): cv2.COLOR_BGR2RGB,
        ('color', 4): cv2.COLOR_BGRA2RGB,
    }.get((flag, channels))
    return img if conversion is None else cv2.cvtColor(img, conversion)


def load_npy(path: str) -> np.ndarray:
    """An array saved with ``np.save``."""
    try:
        return np.load(path)
    except Exception as exc:
        raise OSError(f'cannot read .npy file {path}: {exc}') from exc


@ANNOTATION_READERS.register_module(name='label_png')
def read_label_png(path: str, results: dict) -> np.ndarray:
    """Class indices from a (palette or grey) PNG, as stored."""
    return read_png(path)


@ANNOTATION_READERS.register_module(name='binary_png')
def read_binary_png(path: str, results: dict) -> np.ndarray:
    """A 0/1 map: the (8-bit) grey levels of a PNG above half (128 and
    up)."""
    return (read_png(path, 'grayscale') >= 128).view(np.uint8)


@ANNOTATION_READERS.register_module(name='binary_npy')
def read_binary_npy(path: str, results: dict) -> np.ndarray:
    """A 0/1 map: the positive values of a ``.npy`` array."""
    return (load_npy(path) > 0).astype(np.uint8)


@ANNOTATION_READERS.register_module(name='normals_npy')
def read_normals_npy(path: str, results: dict) -> np.ndarray:
    """Normals from ``.npy`` (H, W, 3); zero vectors are ignored."""
    normals = load_npy(path).astype(np.float32)
    normals[np.linalg.norm(normals, axis=-1) < 1e-6] = IGNORE_INDEX
    return normals


@ANNOTATION_READERS.register_module(name='depth_npy')
def read_depth_npy(path: str, results: dict) -> np.ndarray:
    """Depth in metres from ``.npy``; missing (<= 0) depth is ignored."""
    depth = load_npy(path).astype(np.float32)
    depth[depth <= 0] = IGNORE_INDEX
    return depth


@ANNOTATION_READERS.register_module(name='class_index_txt')
def read_class_index_txt(path: str, results: dict) -> np.ndarray:
    """An image's class index, the only content of a text file."""
    try:
        with open(path) as f:
            return np.array(int(f.read().strip()))
    except ValueError as exc:
        raise ValueError(f'{path} must hold one class index: {exc}') from exc


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
    """Load every target named in ``ann_info`` into a ``gt_<task>`` array.

    ``ann_info`` maps each task to ``dict(path=..., format=...)``; the
    reader of the format (see :func:`annotation_reader`) reads it. Label
    and binary maps become (H, W) uint8, vectors (H, W, C) float32, scalar
    maps (H, W) float32; ignored pixels hold 255; an image's class index is
    a 0-d array. A task without a label for this image (human parts
    without a person) is left out. ``loaded_tasks`` lists what was loaded.
    Every map must match the size of the image file (``ori_shape``); in
    test pipelines loading after a resize keeps the targets at the
    original size, where predictions are evaluated. Every target is
    checked against its task kind (``results['tasks']``, see
    :meth:`~mmsquad.tasks.BaseTask.target_problem`): an impossible value
    raises :class:`~mmsquad.tasks.InvalidTargetError` naming the file.
    """

    def transform(self, results: dict) -> dict:
        loaded = []
        kinds = results.get('tasks', {})
        for task, info in results['ann_info'].items():
            target = annotation_reader(info['format'])(info['path'], results)
            if target is None:
                continue
            if task in kinds:
                kinds[task].check_target(target, info['path'])
            expected = tuple(results['ori_shape'][:2])
            if target.ndim >= 2 and target.shape[:2] != expected:
                raise ValueError(
                    f'{info["path"]}: {task} target size {target.shape[:2]} '
                    f'does not match the image {results["img_path"]} of size '
                    f'{expected}')
            results[f'gt_{task}'] = target
            loaded.append(task)
        results['loaded_tasks'] = loaded
        record_aligned(results)
        return results
