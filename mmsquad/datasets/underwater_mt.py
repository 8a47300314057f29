"""Underwater detection + enhancement data: COCO detection sets with
optional enhancement references, and enhancement-only pairs."""
import os
import os.path as osp
from typing import List, Optional

from mmdet.datasets import CocoDataset
from mmengine.dataset import BaseDataset

from mmsquad.registry import DATASETS
from mmsquad.tasks.presets import TasksCfg
from mmsquad.utils.image_files import is_image_file
from .dataset_tasks import MultiTaskDatasetMixin
from .image_checks import require_file

DUO_CLASSES = ('holothurian', 'echinus', 'scallop', 'starfish')
DUO_METAINFO = dict(
    classes=DUO_CLASSES,
    palette=[(235, 211, 70), (106, 90, 205), (160, 32, 240),
             (176, 23, 31)])


@DATASETS.register_module()
class UnderwaterMTDataset(MultiTaskDatasetMixin, CocoDataset):
    """A COCO-format underwater detection set whose images may carry an
    enhancement reference.

    The reference of an image is, in this order: the field ``ref_key`` of
    its COCO image entry (a path relative to ``data_root``), or the file of
    the same name under ``data_prefix['ref']``. Images without one train
    detection only. Unlike mmdet's ``CocoDataset``, annotation errors fail
    instead of being dropped silently: a box outside its image (by more
    than ``box_tolerance`` pixels), a category id the json does not define,
    or an image missing on disk raise an error naming the image.

    Args:
        tasks: Its tasks: a box task and the image task of the references.
        ref_key: Image-entry field holding the reference path.
        box_tolerance: Pixels a box may extend past the image border.
        **kwargs: :class:`mmdet.datasets.CocoDataset` arguments
            (``ann_file``, ``data_root``, ``data_prefix=dict(img=...,
            ref=..., seg=...)``: ``seg`` the semantic maps, PNGs named
            after the images, that detectors with a semantic head train
            on; ``metainfo=dict(classes=...)``, ``pipeline``, ...).
    """

    METAINFO = DUO_METAINFO

    def __init__(self, *args, tasks: TasksCfg = ('det', 'enhance'),
                 ref_key: str = 'reference', box_tolerance: float = 1.0,
                 **kwargs) -> None:
        self.ref_key = ref_key
        self.box_tolerance = box_tolerance
        super().__init__(*args, **self.init_tasks(tasks, kwargs))

    def load_data_list(self) -> List[dict]:
        self._json_categories: dict = {}
        data_list = super().load_data_list()
        names = [c['name'] for c in self._json_categories.values()]
        missing = sorted(set(self.metainfo['classes']) - set(names))
        if data_list and missing:
            raise KeyError(f'{self.ann_file} defines no category named '
                           f'{missing}; its categories are {sorted(names)}')
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        img_info = raw_data_info['raw_img_info']
        self._check_annotations(img_info, raw_data_info['raw_ann_info'])
        data_info = super().parse_data_info(raw_data_info)
        require_file(data_info['img_path'], f'image {img_info["file_name"]} '
                     f'(id {img_info["id"]} of {self.ann_file})')
        if data_info.get('seg_map_path'):
            require_file(data_info['seg_map_path'], f'the semantic map of '
                         f'{img_info["file_name"]} (data_prefix seg, '
                         f'{self.ann_file})')
        data_info['ref_path'] = self._reference_path(img_info)
        return data_info

    def _check_annotations(self, img_info: dict, anns: List[dict]) -> None:
        """Raise on boxes outside the image and undefined categories."""
        name = img_info['file_name']
        known = self._json_categories = self.coco.cats
        w, h, tol = img_info['width'], img_info['height'], self.box_tolerance
        for ann in anns:
            if ann['category_id'] not in known:
                raise KeyError(
                    f'annotation {ann["id"]} of image {name} in '
                    f'{self.ann_file} has category id {ann["category_id"]}, '
                    f'which the json does not define (ids: {sorted(known)})')
            x, y, bw, bh = ann['bbox']
            if x < -tol or y < -tol or x + bw > w + tol or y + bh > h + tol:
                raise ValueError(
                    f'annotation {ann["id"]} of image {name} in '
                    f'{self.ann_file}: box (x, y, w, h) = {ann["bbox"]} lies '
                    f'outside the {w}x{h} image')

    def _reference_path(self, img_info: dict) -> Optional[str]:
        if img_info.get(self.ref_key):
            path = osp.join(self.data_root or '', img_info[self.ref_key])
        elif self.data_prefix.get('ref'):
            path = osp.join(self.data_prefix['ref'], img_info['file_name'])
            if not osp.isfile(path):
                return None
        else:
            return None
        return require_file(path, f'the enhancement reference of '
                            f'{img_info["file_name"]} ({self.ann_file})')


@DATASETS.register_module()
class EnhancementPairDataset(MultiTaskDatasetMixin, BaseDataset):
    """Enhancement-only pairs in the UIEB layout: every image under
    ``data_prefix['img']`` (e.g. ``raw/``) has the file of the same name
    under ``data_prefix['ref']`` (e.g. ``reference/``). The samples carry no
    detection labels, so only the enhancement loss sees them.

    Args:
        tasks: Its task: the image task of the references.
        data_prefix: The raw and the reference directories.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``data_root``, ``pipeline``, ...).

    Raises:
        FileNotFoundError: When the raw directory is missing or empty, or an
            image has no reference, naming the files.
    """

    METAINFO = DUO_METAINFO

    def __init__(self, tasks: TasksCfg = ('enhance', ),
                 data_prefix: dict = dict(img='raw', ref='reference'),
                 **kwargs) -> None:
        super().__init__(data_prefix=data_prefix,
                         **self.init_tasks(tasks, kwargs))

    def load_data_list(self) -> List[dict]:
        raw_dir, ref_dir = self.data_prefix['img'], self.data_prefix['ref']
        if not osp.isdir(raw_dir):
            raise FileNotFoundError(
                f'enhancement pairs: raw image directory {raw_dir} does not '
                'exist; expected <data_root>/raw/*.jpg and '
                '<data_root>/reference/*.jpg with the same names')
        names = sorted(n for n in os.listdir(raw_dir) if is_image_file(n))
        if not names:
            raise FileNotFoundError(f'enhancement pairs: no image in '
                                    f'{raw_dir}')
        data_list = []
        for i, name in enumerate(names):
            img_path = require_file(osp.join(raw_dir, name), 'raw image')
            ref_path = require_file(osp.join(ref_dir, name),
                                    f'the reference of {img_path}')
            data_list.append(dict(
                img_path=img_path, ref_path=ref_path,
                img_id=osp.splitext(name)[0], instances=[],
                det_labelled=False))
        return data_list
