"""What mmsquad knows about each dense task."""
from dataclasses import dataclass
from typing import Dict, Iterable, List

IGNORE_INDEX = 255


@dataclass(frozen=True)
class DenseTask:
    """Static facts about a dense prediction task.

    Attributes:
        name: Task name, also the key of its target (``gt_<name>``) and
            prediction (``pred_<name>``) in a data sample.
        kind: ``'label'`` (class index map), ``'binary'`` (0/1 map),
            ``'vector'`` (unit vectors), ``'scalar'`` (real values) or
            ``'image'`` (an RGB image in [0, 1]).
        target_channels: Channels of the target map.
        ignore_value: Value of ignored target pixels; batching pads with it.
    """

    name: str
    kind: str
    target_channels: int = 1
    ignore_value: int = IGNORE_INDEX

    @property
    def is_integer(self) -> bool:
        """Whether the target holds class indices (stored as int64)."""
        return self.kind in ('label', 'binary')


DENSE_TASKS: Dict[str, DenseTask] = {
    t.name: t
    for t in (
        DenseTask('semseg', 'label'),
        DenseTask('human_parts', 'label'),
        DenseTask('sal', 'binary'),
        DenseTask('edge', 'binary'),
        DenseTask('normals', 'vector', target_channels=3),
        DenseTask('depth', 'scalar'),
        DenseTask('enhance', 'image', target_channels=3, ignore_value=-1),
    )
}


def get_dense_task(name: str) -> DenseTask:
    """Look a task up by name.

    Raises:
        KeyError: For an unknown task, naming the known ones.
    """
    if name not in DENSE_TASKS:
        raise KeyError(f'unknown dense task {name!r}; known tasks: '
                       f'{sorted(DENSE_TASKS)}')
    return DENSE_TASKS[name]


def check_tasks(names: Iterable[str]) -> List[str]:
    """Validate task names and return them as a list."""
    names = list(names)
    for name in names:
        get_dense_task(name)
    if len(set(names)) != len(names):
        raise ValueError(f'duplicate task names in {names}')
    return names
