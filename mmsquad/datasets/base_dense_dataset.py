"""Common reading of multi-task dense datasets laid out as archives."""
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from mmengine.dataset import BaseDataset

from mmsquad.structures import check_tasks


class BaseDenseMTDataset(BaseDataset):
    """A split file of image ids, one image per id, per-task annotation files.

    Subclasses set ``LAYOUT`` (shown in errors), ``TASK_FILES`` (task ->
    ``(path template, format)``, the template relative to ``data_root``
    with ``{id}``) and implement :meth:`split_file` and :meth:`image_path`.

    Args:
        data_root: The dataset directory.
        split: Split name (``'train'``, ``'val'``).
        tasks: Which targets to load.
        **kwargs: Passed to :class:`~mmengine.dataset.BaseDataset`.
    """

    LAYOUT = ''
    TASK_FILES: Dict[str, Tuple[str, str]] = {}

    def __init__(self, data_root: str, split: str, tasks: Sequence[str],
                 **kwargs) -> None:
        self.split = split
        self.tasks = check_tasks(tasks)
        unsupported = [t for t in self.tasks if t not in self.TASK_FILES]
        if unsupported:
            raise KeyError(f'{type(self).__name__} has no targets for '
                           f'{unsupported}; it provides '
                           f'{list(self.TASK_FILES)}')
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
        """``dict(path=..., format=...)`` of one task's file."""
        template, fmt = self.TASK_FILES[task]
        path = osp.join(self.data_root, template.format(id=img_id))
        return dict(path=self.require(path, f'{task} annotation'),
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
