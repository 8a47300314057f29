"""The loaded targets in a pipeline's results, with their task kinds."""
from typing import Dict, Iterator, Tuple

from mmsquad.tasks import BaseTask


def loaded_targets(results: dict) -> Iterator[Tuple[str, BaseTask]]:
    """``(results key, task kind)`` of every loaded target.

    Raises:
        KeyError: When the results carry targets but not the task kinds
            (``tasks``, which mmsquad's datasets add to every data info).
    """
    names = results.get('loaded_tasks', [])
    if names and 'tasks' not in results:
        raise KeyError(f'the results of {results.get("img_path")} carry '
                       f'targets {names} but no task kinds (`tasks`); load '
                       'them with a dataset derived from BaseDenseMTDataset')
    kinds: Dict[str, BaseTask] = results.get('tasks', {})
    for name in names:
        yield f'gt_{name}', kinds[name]
