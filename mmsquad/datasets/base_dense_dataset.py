"""Common reading of multi-task dense datasets laid out as archives."""
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmsquad.tasks.presets import TasksCfg
from .dataset_tasks import MultiTaskDatasetMixin
from .image_checks import require_file
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
        bad_files: What a sample whose files cannot be right does (an id
            listed twice, a missing or empty image or annotation file):
            ``'error'`` (the dataset is refused, with every such problem
            listed) or ``'skip'`` (the sample, or the repeat, is left out
            with a warning listing them). The problems are kept in
            :attr:`file_problems` either way.
        **kwargs: Passed to :class:`~mmengine.dataset.BaseDataset`.
    """

    LAYOUT = ''
    TASK_FILES: Dict[str, AnnotationFile] = {}

    def __init__(self, data_root: str, split: str, tasks: TasksCfg,
                 annotations: Optional[Dict[str, AnnotationFile]] = None,
                 bad_files: str = 'error', **kwargs) -> None:
        if bad_files not in ('error', 'skip'):
            raise ValueError(f"{type(self).__name__}: bad_files must be "
                             f"'error' or 'skip', got {bad_files!r}")
        self.split = split
        self.bad_files = bad_files
        self.file_problems: List[str] = []
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

    def annotation(self, task: str, img_id: str) -> dict:
        """``dict(path=..., format=...)`` of one task's file: the first
        candidate template that exists."""
        templates, fmt = self.annotation_files[task]
        if isinstance(templates, str):
            templates = [templates]
        paths = [osp.join(self.data_root, t.format(id=img_id))
                 for t in templates]
        found = next((p for p in paths if osp.isfile(p)), paths[0])
        return dict(path=require_file(found, f'{task} annotation'),
                    format=fmt)

    def load_data_list(self) -> List[dict]:
        """One data info per id of the split file, every file checked.

        Raises:
            ValueError: When the split file lists no id, or (under
                ``bad_files='error'``) listing every sample whose files
                cannot be right.
        """
        try:
            split_file = require_file(self.split_file(), 'split file')
        except FileNotFoundError as error:
            raise FileNotFoundError(f'{error}; expected the layout:\n'
                                    f'{self.LAYOUT}') from None
        with open(split_file) as f:
            ids = [line.strip() for line in f if line.strip()]
        if not ids:
            raise ValueError(f'split file {split_file} lists no image ids')
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
        self.file_problems = [
            f'split file {split_file} lists {len(repeated)} ids more than '
            f'once: {", ".join(repeated)}'] if repeated else []
        data_list = []
        for img_id in dict.fromkeys(ids):
            try:
                img_path = require_file(
                    self.image_path(img_id),
                    f'image of {img_id!r} (split file {split_file})')
                data_list.append(self.extra_info(dict(
                    img_id=img_id, img_path=img_path,
                    ann_info={t: self.annotation(t, img_id)
                              for t in self.tasks})))
            except OSError as error:
                self.file_problems.append(str(error))
        if self.file_problems:
            listed = '\n  '.join(self.file_problems)
            what = (f'{type(self).__name__} ({self.split}): '
                    f'{len(self.file_problems)} problems with the files of '
                    f'{split_file}:\n  {listed}')
            if self.bad_files == 'error':
                raise ValueError(f"{what}\nThe layout:\n{self.LAYOUT}\n"
                                 "Fix them, or give the dataset "
                                 "bad_files='skip' to leave those samples "
                                 "(and repeats) out")
            print_log(f'{what}\nleft out (bad_files=\'skip\')', 'current',
                      30)
        return data_list

    def extra_info(self, info: dict) -> dict:
        """Hook for dataset-specific additions to a data info."""
        return info
