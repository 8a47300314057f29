"""Data samples with random targets, for benchmarks and tests."""
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import (BaseTask, BinaryMapTask, ImageTask, LabelMapTask,
                           ScalarMapTask, UnitVectorTask)


def random_target(task: BaseTask, size: int) -> torch.Tensor:
    """A random ``size`` x ``size`` target of a dense ``task``: classes,
    0/1, unit vectors, positive values or an image in [0, 1].

    Raises:
        TypeError: For a kind without a dense target.
    """
    if isinstance(task, LabelMapTask):
        return torch.randint(0, task.num_classes, (1, size, size))
    if isinstance(task, BinaryMapTask):
        return torch.randint(0, 2, (1, size, size))
    if isinstance(task, UnitVectorTask):
        return F.normalize(torch.randn(task.out_channels, size, size), dim=0)
    if isinstance(task, ScalarMapTask):
        return torch.rand(1, size, size) + 0.5
    if isinstance(task, ImageTask):
        return torch.rand(3, size, size)
    raise TypeError(f'no random dense target for task {task!r}')


def random_samples(tasks: Dict[str, BaseTask], batch: int,
                   size: int) -> List[MultiTaskDataSample]:
    """``batch`` samples of ``size`` x ``size`` with a random target for
    every task."""
    samples = []
    for _ in range(batch):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=(size, size),
                                                   ori_shape=(size, size)))
        for name, task in tasks.items():
            sample.set_target(name, PixelData(data=random_target(task,
                                                                 size)))
        samples.append(sample)
    return samples
