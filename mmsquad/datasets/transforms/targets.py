"""The dense targets in a pipeline's results, with their task kinds."""
from typing import Dict, Iterator, Tuple

from mmsquad.tasks import DenseMapTask


def dense_targets(results: dict) -> Iterator[Tuple[str, DenseMapTask]]:
    """``(results key, task kind)`` of every loaded dense target.

    Raises:
        KeyError: When the results carry targets but not the task kinds
            (``tasks``, which mmsquad's datasets add to every data info).
    """
    names = results.get('dense_tasks', [])
    if names and 'tasks' not in results:
        raise KeyError(f'the results of {results.get("img_path")} carry '
                       f'targets {names} but no task kinds (`tasks`); load '
                       'them with a dataset derived from BaseDenseMTDataset')
    kinds: Dict[str, DenseMapTask] = results.get('tasks', {})
    for name in names:
        yield f'gt_{name}', kinds[name]
