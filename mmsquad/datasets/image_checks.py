"""What every mmsquad dataset makes sure of its files: images decoded in
stored pixel order (as every published annotation is), files present and
not empty before training, images named in any error decoding them."""
import contextlib
import os.path as osp
from typing import Callable, Iterator, List, Sequence, Union

import cv2
from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log

from mmsquad.utils.image_files import STORED_ORDER



def decode_in_stored_order(pipeline: Sequence, owner: str) -> List:
    """``pipeline`` (configs or built transforms) with every image loader
    decoding in stored pixel order.

    A photo's EXIF orientation tag tells viewers to rotate it; decoding
    with it (``color_type='color'``, mmcv's default) turns the image but
    not its label maps, which are in stored order, and trains on
    misaligned pairs (silently, on square images). A loader that applies
    the tag is switched to the matching ``*_ignore_orientation`` type, with
    a warning where the config asked for it explicitly.

    Args:
        pipeline: The steps (dicts, copied; or transforms, changed).
        owner: Who owns the pipeline, for the warning.
    """
    steps = [dict(s) if isinstance(s, dict) else s for s in pipeline]
    for index, step in enumerate(steps):
        if isinstance(step, dict) and str(step.get('type', '')).split(
                '.')[-1] == 'LoadImageFromFile':
            asked = step.get('color_type')
            if asked in STORED_ORDER:
                print_log(f'{owner}: pipeline[{index}] {step["type"]} '
                          f"color_type={asked!r} would rotate images by "
                          'their EXIF orientation but not their '
                          "annotations: decoding with color_type="
                          f'{STORED_ORDER[asked]!r}', 'current', 30)
            step['color_type'] = STORED_ORDER.get(asked or 'color',
                                                  asked)
        elif isinstance(step, LoadImageFromFile):
            step.color_type = STORED_ORDER.get(step.color_type,
                                               step.color_type)
    return steps


def require_file(path: str, what: str) -> str:
    """``path``, or an error naming ``what`` it is and the path: it does
    not exist, or is empty (0 bytes)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} {path} does not exist')
    if osp.getsize(path) == 0:
        raise OSError(f'{what} {path} is empty (0 bytes)')
    return path


@contextlib.contextmanager
def naming_the_file(path: Union[str, Callable[[], str]]) -> Iterator[None]:
    """Re-raise a decoding error (OpenCV's, an ``OSError``, or mmcv's
    ``failed to load image`` assertion) as an ``OSError`` that names
    ``path`` (or what calling it gives: looked up only on an error)."""
    try:
        yield
    except (cv2.error, OSError, AssertionError) as error:
        if isinstance(error, AssertionError) and not str(error).startswith(
                'failed to load image'):
            raise
        path = path if isinstance(path, str) else path()
        if path in str(error) and isinstance(error, OSError):
            raise
        first_line = (str(error).strip().splitlines() or [''])[-1]
        raise OSError(f'{path}: cannot be loaded ({type(error).__name__}: '
                      f'{first_line})') from error
