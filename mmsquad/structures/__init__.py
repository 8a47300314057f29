"""Data structures and task facts."""
from .multitask_data_sample import MultiTaskDataSample
from .tasks import (DENSE_TASKS, IGNORE_INDEX, DenseTask, check_tasks,
                    get_dense_task)

__all__ = [
    'DENSE_TASKS', 'IGNORE_INDEX', 'DenseTask', 'MultiTaskDataSample',
    'check_tasks', 'get_dense_task'
]
