"""Any mmseg or mmdet dataset as the data of one task."""
import copy
from typing import Optional, Union

import numpy as np
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement, InstanceData, PixelData
from mmengine.dataset import BaseDataset

from mmsquad.registry import DATASETS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import (BaseTask, BoxTask, DenseMapTask, build_task,
                           task_configs)
from .dataset_tasks import TASKS_KEY
from .image_checks import decode_in_stored_order, naming_the_file

#: Where mmseg's and mmdet's packing transforms put a sample's target, by
#: the task kinds that read it.
SOURCE_KEYS = {BoxTask: 'gt_instances', DenseMapTask: 'gt_sem_seg'}
#: mmseg's label of ignored pixels.
MMSEG_IGNORE_INDEX = 255


@DATASETS.register_module()
class TaskDataset(BaseDataset):
    """Another package's dataset (an mmseg segmentation set, an mmdet
    COCO-format set, ...) as the data of one task of a multi-task model.

    The wrapped dataset runs its own pipeline, packing transform included
    (``PackSegInputs``, ``PackDetInputs``); each packed sample becomes a
    :class:`~mmsquad.structures.MultiTaskDataSample` labelled for ``task``
    only: mmseg's ``gt_sem_seg`` (or ``source_key``) becomes the task's
    target, its ignored pixels (``ignore_index``) the task's ``ignore_index``;
    mmdet's ``gt_instances`` (and ``ignored_instances``, and a semantic
    map ``gt_sem_seg`` where its pipeline loads one) stay as they are, for
    a :class:`~mmsquad.tasks.BoxTask`. The metadata (``img_path``,
    ``ori_shape``, ``scale_factor``, ...) is kept, so the sample is
    evaluated at its original size. Images are decoded in stored pixel
    order (the wrapped pipeline's ``LoadImageFromFile`` ignores EXIF
    orientation, as the annotations do), every target is checked against
    the task's kind, and an error loading a sample names its image file.
    The metainfo is the wrapped dataset's
    with the task (``tasks``) and, where the wrapped dataset's class names
    are the task's classes, those names (``task_classes``). Other tasks of the model see the
    sample as unlabelled: their losses skip it.

    Args:
        dataset: The dataset, or its config (as the other package's configs
            write it, e.g. ``{{_base_.train_dataloader.dataset}}``).
        task: The task it labels: a preset name, a task config or a built
            task; its name must be one of the model's tasks.
        scope: The registry scope to build ``dataset`` in (``'mmseg'``,
            ``'mmdet'``), when its config does not name one (``_scope_``).
        source_key: The packed sample's field holding the target; default:
            ``gt_instances`` for box tasks, ``gt_sem_seg`` for dense ones.
        ignore_index: The wrapped dataset's value of ignored pixels (dense
            tasks).

    It is an mmengine ``BaseDataset`` (for ``ConcatDataset``), but holds
    no data list of its own: it does not call ``BaseDataset.__init__``.

    Example:
        >>> train_dataloader = dict(dataset=dict(
        ...     type='TaskDataset', task='semseg', scope='mmseg',
        ...     dataset={{_base_.train_dataloader.dataset}}))
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 task: Union[str, dict, BaseTask],
                 scope: Optional[str] = None,
                 source_key: Optional[str] = None,
                 ignore_index: int = MMSEG_IGNORE_INDEX) -> None:
        if isinstance(dataset, dict):
            dataset = copy.deepcopy(dict(dataset))
            if scope is not None:
                dataset.setdefault('_scope_', scope)
            dataset = DATASETS.build(dataset)
        decode_in_stored_order(
            getattr(getattr(dataset, 'pipeline', None), 'transforms', []),
            f'TaskDataset({type(dataset).__name__})')
        self.dataset = dataset
        self.scope = scope
        if isinstance(task, dict):
            task = dict(task)
            task = build_task(task.pop('name'), task)
        self.task = task if isinstance(task, BaseTask) else build_task(task)
        if source_key is None:
            source_key = next((key for kind, key in SOURCE_KEYS.items()
                               if isinstance(self.task, kind)), None)
        if source_key is None:
            raise TypeError(
                f'TaskDataset: task {self.task!r} is neither a box nor a '
                'dense map task: give the packed field that holds its '
                'target as source_key')
        self.source_key = source_key
        self.ignore_index = ignore_index
        self._metainfo = dict(copy.deepcopy(getattr(dataset, 'metainfo',
                                                    {})),
                              **{TASKS_KEY: task_configs({
                                  self.task.name: self.task})})
        classes = self._metainfo.get('classes')
        if classes is not None and len(classes) == getattr(
                self.task, 'num_classes', len(classes)):
            self._metainfo['task_classes'] = {self.task.name: classes}
        self._fully_initialized = True

    def full_init(self) -> None:
        """Initialise the wrapped dataset (when it was built lazily)."""
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def get_data_info(self, index: int) -> dict:
        """The wrapped dataset's annotation of ``index``."""
        return self.dataset.get_data_info(index)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        # The wrapped pipeline builds lazily in some packages: in its scope.
        with DefaultScope.overwrite_default_scope(self.scope), \
                naming_the_file(lambda: str(self.get_data_info(index).get(
                    'img_path', index))):
            packed = self.dataset[index]
        return dict(packed, data_samples=self.convert(packed['data_samples']))

    def convert(self, sample: BaseDataElement) -> MultiTaskDataSample:
        """A packed sample of the wrapped dataset, labelled for the task."""
        converted = MultiTaskDataSample(metainfo=sample.metainfo)
        value = sample.get(self.source_key)
        boxes = isinstance(value, InstanceData)
        if boxes or isinstance(self.task, BoxTask):
            BoxTask.carry_fields(sample, converted, labelled=boxes)
        if value is None or boxes:
            return converted
        if not isinstance(value, PixelData):
            raise TypeError(
                f'TaskDataset: {self.source_key} of a sample of '
                f'{type(self.dataset).__name__} is a {type(value).__name__}, '
                f'not the PixelData or InstanceData of task {self.task!r}')
        target = value.data.numpy().transpose(1, 2, 0)
        target = np.where(target == self.ignore_index, self.task.ignore_index,
                          target)
        self.task.check_target(target, sample.metainfo.get(
            'seg_map_path', sample.metainfo.get('img_path', '?')))
        converted.set_field(self.task.pack(target), self.task.target_key)
        return converted
