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


#: The results key of the image's frame, ``((height, width), mirrored)``,
#: that the loaded targets were last aligned with.
ALIGNED_FRAME = 'targets_aligned_frame'


def image_frame(results: dict) -> Tuple[Tuple[int, ...], bool]:
    """The image's size and whether it is mirrored."""
    return tuple(results['img'].shape[:2]), bool(results.get('flip', False))


def record_aligned(results: dict) -> None:
    """Note that the loaded targets are aligned with the image as it is
    now (after loading them, and after every transform that moves them
    with the image)."""
    if results.get('loaded_tasks'):
        results[ALIGNED_FRAME] = image_frame(results)


def check_aligned(results: dict) -> None:
    """Raise when the image was resized, cropped or mirrored since its
    targets were last aligned with it: by a transform that moves the image
    alone (mmseg's and mmdet's geometric transforms move the keys they know,
    never ``gt_<task>``), which trained on misaligned targets in silence.

    Raises:
        ValueError: Naming the image and the change.
    """
    if ALIGNED_FRAME not in results:
        return
    (size, mirrored), (now, mirrored_now) = (results[ALIGNED_FRAME],
                                             image_frame(results))
    if size != now:
        change = (f'changed the image from {size[0]}x{size[1]} to '
                  f'{now[0]}x{now[1]}')
    elif mirrored != mirrored_now:
        change = 'mirrored the image'
    else:
        return
    raise ValueError(
        f'{results.get("img_path")}: a transform after '
        f'LoadMultiTaskAnnotations {change} without its targets '
        f'{list(results["loaded_tasks"])}: only the MultiTask* transforms '
        'move the targets with the image (another package\'s geometric '
        'transforms move only the keys they know)')
