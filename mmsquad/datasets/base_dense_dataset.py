"""Common reading of multi-task dense datasets laid out as archives."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset

from mmsquad.tasks.presets import TasksCfg
from .dataset_tasks import MultiTaskDatasetMixin
from .transforms.loading import annotation_reader

#: Where a task's annotation of image ``{id}`` is, relative to the data
#: root (one template, or candidates tried in order), and its format (the
#: name of a reader in the ``ANNOTATION_READERS`` registry).
AnnotationFile = Tuple[Union[str, Sequence[str]], str]


class BaseDenseMTDataset(MultiTaskDatasetMixin, BaseDataset):
    """A split file of image ids, one image per id, per-task annotation files.

    Subclasses set ``LAYOUT`` (shown in errors), ``TASK_FILES`` (the
    annotation file of each task the layout provides) and implement
    :meth:`split_file` and :meth:`image_path`. ``annotations`` adds or
    replaces annotation files from the config, so a task the layout does
    not name (a 2-class map from the saliency files, the 59-class
    PASCAL-Context labels next to the 21-class ones) needs no code.

    The dataset publishes its tasks in its metainfo (``tasks``: ``{name:
    kind config}``), and every data info carries them built (``tasks``);
    transforms and packing read the kinds from there.

    Args:
        data_root: The dataset directory.
        split: Split name (``'train'``, ``'val'``).
        tasks: The tasks to load: preset names or ``{name: kind config}``
            (see :func:`~mmsquad.tasks.build_tasks`).
        annotations: ``{task: (template, format)}`` added to, or replacing,
            the layout's ``TASK_FILES``.
        **kwargs: Passed to :class:`~mmengine.dataset.BaseDataset`.
    """

    LAYOUT = ''
    TASK_FILES: Dict[str, AnnotationFile] = {}

    def __init__(self, data_root: str, split: str, tasks: TasksCfg,
                 annotations: Optional[Dict[str, AnnotationFile]] = None,
                 **kwargs) -> None:
        self.split = split
        kwargs = self.init_tasks(tasks, kwargs)
        self.annotation_files = {**self.TASK_FILES, **(annotations or {})}
        unsupported = [t for t in self.tasks
                       if t not in self.annotation_files]
        for task in self.tasks:
            if task in self.annotation_files:
                try:
                    annotation_reader(self.annotation_files[task][1])
                except KeyError as error:
                    raise KeyError(f'{type(self).__name__}, task {task!r}: '
                                   f'{error.args[0]}') from None
        if unsupported:
            raise KeyError(f'{type(self).__name__} has no annotations for '
                           f'{unsupported}; its layout provides '
                           f'{list(self.TASK_FILES)}; add others with '
                           "annotations={task: ('<dir>/{id}.png', format)}")
        super().__init__(data_root=data_root, **kwargs)

    def split_file(self) -> str:
        """Path of the file listing the ids of ``self.split``."""
        raise NotImplementedError

    def image_path(self, img_id: str) -> str:
        """Path of the image of ``img_id``."""
        raise NotImplementedError

    def require(self, path: str, what: str) -> str:
        """``path``, or a FileNotFoundError naming it and the layout."""
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{what} {path} does not exist; expected the layout:\n'
                f'{self.LAYOUT}')
        return path

    def annotation(self, task: str, img_id: str) -> dict:
        """``dict(path=..., format=...)`` of one task's file: the first
        candidate template that exists."""
        templates, fmt = self.annotation_files[task]
        if isinstance(templates, str):
            templates = [templates]
        paths = [osp.join(self.data_root, t.format(id=img_id))
                 for t in templates]
        found = next((p for p in paths if osp.isfile(p)), paths[0])
        return dict(path=self.require(found, f'{task} annotation'),
                    format=fmt)

    def load_data_list(self) -> List[dict]:
        split_file = self.require(self.split_file(), 'split file')
        with open(split_file) as f:
            ids = [line.strip() for line in f if line.strip()]
        data_list = []
        for img_id in ids:
            img_path = self.image_path(img_id)
            if not osp.isfile(img_path):
                raise FileNotFoundError(
                    f'image id {img_id!r} listed in {split_file} has no '
                    f'image {img_path}')
            info = dict(img_id=img_id, img_path=img_path,
                        ann_info={t: self.annotation(t, img_id)
                                  for t in self.tasks})
            data_list.append(self.extra_info(info))
        return data_list

    def extra_info(self, info: dict) -> dict:
        """Hook for dataset-specific additions to a data info."""
        return info
