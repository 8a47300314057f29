"""The advertised contract of a multi-task feature map."""
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class SquadFeatureSpec:
    """Channels, stride and group layout of one feature level.

    The channels hold ``num_tasks`` task groups followed by ``num_shared``
    shared groups of ``group_channels`` channels each.

    Attributes:
        channels: Total channels.
        group_channels: Channels of one group.
        num_tasks: Task groups.
        num_shared: Shared groups.
        stride: Output stride relative to the input image, None where the
            producer cannot know it.
    """

    channels: int
    group_channels: int
    num_tasks: int
    num_shared: int
    stride: Optional[int] = None

    def task_range(self, task_index: int) -> Tuple[int, int]:
        """``(start, stop)`` channels of task group ``task_index``."""
        if not 0 <= task_index < self.num_tasks:
            raise IndexError(f'task index {task_index} out of range for '
                             f'{self.num_tasks} task groups')
        c = self.group_channels
        return task_index * c, (task_index + 1) * c

    @property
    def task_ranges(self) -> Tuple[Tuple[int, int], ...]:
        """Channel ranges of all task groups."""
        return tuple(self.task_range(t) for t in range(self.num_tasks))

    @property
    def shared_range(self) -> Tuple[int, int]:
        """``(start, stop)`` channels of all shared groups together."""
        return self.num_tasks * self.group_channels, self.channels

    @property
    def task_feature_channels(self) -> int:
        """Channels a task sees: its own group plus all shared groups."""
        return self.group_channels * (1 + self.num_shared)
