"""Image files: which files are images, how they are decoded, and the
images of a directory."""
import os
import os.path as osp
from typing import List

from PIL import Image

#: Suffixes of the image files mmsquad reads from directories.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')

#: mmcv's decoding flag that applies a file's EXIF orientation -> the one
#: that keeps the stored pixel order, in which annotations are made.
STORED_ORDER = {'color': 'color_ignore_orientation',
                'grayscale': 'grayscale_ignore_orientation'}


#: The EXIF tag of the orientation a viewer turns an image to.
ORIENTATION_TAG = 0x0112


def is_image_file(name: str) -> bool:
    """Whether ``name`` ends with an image suffix (any case)."""
    return name.lower().endswith(IMAGE_SUFFIXES)


def exif_orientation(path: str) -> int:
    """The EXIF orientation tag of an image file (1, upright as stored,
    when it has none or cannot be read)."""
    try:
        with Image.open(path) as image:
            return int(image.getexif().get(ORIENTATION_TAG, 1))
    except (OSError, ValueError, SyntaxError):
        return 1


def find_images(directory: str) -> List[str]:
    """The image files under ``directory`` (sub-directories and linked
    directories included, each real directory once, so a symbolic-link
    loop ends), sorted.

    Raises:
        NotADirectoryError: When ``directory`` is not a directory.
    """
    if not osp.isdir(directory):
        raise NotADirectoryError(f'{directory} is not a directory')
    found, seen = [], set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        real = osp.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        found.extend(osp.join(root, name) for name in files
                     if is_image_file(name))
    return sorted(found)
