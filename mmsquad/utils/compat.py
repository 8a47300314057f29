"""Fixes for the OpenMMLab stack on recent torch, installed by
:func:`mmsquad.utils.register_all_modules` (never at import time).

* mmengine 0.10.7's local checkpoint loader fails on torch >= 2.6 for the
  checkpoints mmengine itself writes; it is replaced by
  :func:`mmsquad.utils.checkpoint.load_from_local`, which loads them without
  running code from the file.
* mmengine writes a checkpoint straight to its final path, so a crash while
  writing leaves a truncated file that ``--resume`` then picks up. The local
  storage backend is replaced by one that writes to a temporary file in the
  same directory and renames it into place.
"""
import os
import os.path as osp
import uuid
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint import load_from_local

TEMP_SUFFIX = '.tmp'


class AtomicLocalBackend(LocalBackend):
    """A local storage backend whose writes are all-or-nothing."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` through a temporary file and rename."""
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` through a temporary file and rename."""
        atomic_write(obj.encode(encoding), filepath)


def temp_path_for(filepath: Union[str, Path]) -> str:
    """A fresh temporary name beside ``filepath``: hidden, ending in
    ``.tmp``, so that leftovers of killed writes can be found."""
    directory, name = osp.split(osp.abspath(filepath))
    return osp.join(directory, f'.{name}.{uuid.uuid4().hex}{TEMP_SUFFIX}')


def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` whole or not at all (temporary file in
    the same directory, fsync, rename).

    Raises:
        OSError: As the system raised it, naming ``filepath`` (a full disk
            says only ``No space left on device``).
    """
    os.makedirs(osp.dirname(osp.abspath(filepath)), exist_ok=True)
    tmp_path = temp_path_for(filepath)
    # os.open with 0o666 honours the umask, as a plain open() would.
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException as error:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        if isinstance(error, OSError) and error.filename is None:
            raise OSError(error.errno, f'{error.strerror} while writing '
                          f'{filepath}') from error
        raise


def install_compat() -> None:
    """Install the loader and the storage backend described above."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
