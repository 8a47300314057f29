"""Which files are images."""

#: Suffixes of the image files mmsquad reads from directories.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def is_image_file(name: str) -> bool:
    """Whether ``name`` ends with an image suffix (any case)."""
    return name.lower().endswith(IMAGE_SUFFIXES)
