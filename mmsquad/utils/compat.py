"""Fixes for the OpenMMLab stack on recent torch, applied inside mmsquad.

* mmengine 0.10.7 calls ``torch.load`` without ``weights_only=False``; since
  torch 2.6 that refuses the checkpoints mmengine itself writes (they hold
  message-hub state, numpy scalars, ...). A local checkpoint loader that
  passes ``weights_only=False`` replaces mmengine's.
* mmengine writes a checkpoint straight to its final path, so a crash while
  writing leaves a truncated file that ``--resume`` then picks up. The local
  storage backend is replaced by one that writes to a temporary file in the
  same directory and renames it into place.

Both are installed when :mod:`mmsquad` is imported.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.runner.checkpoint import CheckpointLoader


def load_from_local(filename: str,
                          map_location: Optional[Union[str, torch.device]] = None
                          ) -> dict:
    """Load a local checkpoint written by mmengine or torch.

    Args:
        filename: Path of the checkpoint.
        map_location: Same as :func:`torch.load`.

    Returns:
        The loaded checkpoint.

    Raises:
        FileNotFoundError: When ``filename`` is not a file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


class AtomicLocalBackend(LocalBackend):
    """A local storage backend whose writes are all-or-nothing."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` through a temporary file and rename."""
        _atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` through a temporary file and rename."""
        _atomic_write(obj.encode(encoding), filepath)


def _atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=directory, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def install_compat() -> None:
    """Install the loader and the storage backend described above."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
