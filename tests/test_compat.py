"""Checkpoints load on torch >= 2.6 and a failed write loses nothing."""
import os

import numpy as np
import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        save_checkpoint)


def test_mmengine_checkpoint_with_non_tensor_state_loads(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    # numpy objects are what mmengine's message hub stores and what
    # torch.load(weights_only=True) refuses.
    ckpt = dict(meta=dict(epoch=1, seed=np.int64(7)),
                state_dict=dict(w=torch.ones(2)),
                message_hub=dict(log_scalars={'loss': np.ones(3)}))
    save_checkpoint(ckpt, path)
    loaded = _load_checkpoint(path, map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['meta']['epoch'] == 1


def test_missing_checkpoint_names_the_path(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(missing)


def test_interrupted_write_keeps_the_previous_file(tmp_path):
    path = str(tmp_path / 'latest.pth')
    backend = get_file_backend(path)
    backend.put(b'complete checkpoint', path)

    import mmsquad.utils.compat as compat
    original = compat._atomic_write

    def half_write(data, filepath):
        # Let the atomic writer create its temp file, then fail inside it.
        real_fdopen = os.fdopen

        def broken_fdopen(fd, mode):
            f = real_fdopen(fd, mode)
            f.write(data[:5])
            f.close()
            raise KeyboardInterrupt
        os.fdopen = broken_fdopen
        try:
            original(data, filepath)
        finally:
            os.fdopen = real_fdopen

    compat._atomic_write = half_write
    try:
        with pytest.raises(KeyboardInterrupt):
            backend.put(b'new checkpoint that never finishes', path)
    finally:
        compat._atomic_write = original
    with open(path, 'rb') as f:
        assert f.read() == b'complete checkpoint'
    assert os.listdir(tmp_path) == ['latest.pth']
