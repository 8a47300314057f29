"""Checkpoints load without running their code, only into the model they
fit, and a failed write loses nothing."""
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from conftest import REPO, TINY_CONFIG
from mmsquad.apis import MultiTaskInferencer, init_model
from mmsquad.utils import CheckpointError, trust_checkpoint

SMALL_CONFIG = osp.join(REPO, 'configs', 'squad', 'demo.py')


class Payload:
    """Unpickling this writes a marker file: what a crafted checkpoint
    would do with a shell command."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


class Benign:
    """An object of a class outside the allow-list."""


def _run(*args):
    return subprocess.run([sys.executable, *args], cwd=REPO, timeout=600,
                          capture_output=True, text=True,
                          env={**os.environ, 'PYTHONPATH': REPO})


def test_mmengine_runtime_state_loads_without_trust(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    buffer = HistoryBuffer()
    buffer.update(0.5)
    buffer.update(1.5)
    torch.save(dict(meta=dict(epoch=1, seed=np.int64(7)),
                    state_dict=dict(w=torch.ones(2)),
                    message_hub=dict(log_scalars={'loss': buffer},
                                     runtime_info=dict(eta=np.float64(3.0)),
                                     arrays=np.arange(3))), path)
    loaded = _load_checkpoint(path, map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['meta']['seed'] == 7
    assert loaded['message_hub']['log_scalars']['loss'].mean() == 1.0
    np.testing.assert_array_equal(loaded['message_hub']['arrays'],
                                  np.arange(3))


def test_a_crafted_checkpoint_runs_nothing_in_any_tool(demo_root, tmp_path):
    marker = str(tmp_path / 'payload_ran')
    path = str(tmp_path / 'crafted.pth')
    torch.save(dict(state_dict={}, extra=Payload(marker)), path)
    with pytest.raises(CheckpointError, match=r'crafted.pth.*\(io.open\)'):
        _load_checkpoint(path)
    test = _run('tools/test.py', TINY_CONFIG, path, '--work-dir',
                str(tmp_path / 'w'), '--cfg-options',
                f'test_dataloader.dataset.data_root={demo_root}')
    demo = _run('demo/image_demo.py', osp.join(demo_root, 'JPEGImages'),
                TINY_CONFIG, path,
                '--out-dir', str(tmp_path / 'out'))
    for result in (test, demo):
        assert result.returncode != 0
        assert 'crafted.pth' in result.stderr
        assert '--trust-checkpoint' in result.stderr
    assert not osp.exists(marker)


def test_a_trusted_file_may_hold_other_objects(tmp_path):
    path = str(tmp_path / 'mine.pth')
    torch.save(dict(state_dict={}, extra=Benign()), path)
    with pytest.raises(CheckpointError, match='Benign'):
        _load_checkpoint(path)
    trust_checkpoint(path)
    assert isinstance(_load_checkpoint(path)['extra'], Benign)


def test_import_patches_nothing():
    probe = ('from mmengine.runner.checkpoint import CheckpointLoader as L\n'
             'before = L._schemes[""]\n'
             'import mmsquad, mmsquad.models, mmsquad.apis\n'
             'assert L._schemes[""] is before, "patched at import"\n'
             'from mmsquad.utils import register_all_modules\n'
             'register_all_modules()\n'
             'print(L._schemes[""].__module__)\n')
    result = _run('-c', probe)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == 'mmsquad.utils.checkpoint'


@pytest.mark.parametrize('content, problem', [
    (b'', 'empty'), (b'not a checkpoint', 'cannot be read')])
def test_empty_or_corrupt_checkpoint_names_the_file(tmp_path, content,
                                                    problem):
    path = tmp_path / 'bad.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f'bad.pth.*{problem}'):
        init_model(TINY_CONFIG, str(path))


def test_truncated_checkpoint_names_the_file(tiny_checkpoint, demo_root,
                                             tmp_path):
    data = open(tiny_checkpoint, 'rb').read()
    path = tmp_path / 'cut.pth'
    path.write_bytes(data[:len(data) // 2])
    result = _run('tools/test.py', TINY_CONFIG, str(path), '--work-dir',
                  str(tmp_path / 'w'), '--cfg-options',
                  f'test_dataloader.dataset.data_root={demo_root}')
    assert result.returncode != 0
    assert 'cut.pth cannot be read' in result.stderr


def test_weights_of_another_model_are_refused(tiny_checkpoint, demo_root,
                                              tmp_path):
    with pytest.raises(CheckpointError) as info:
        init_model(SMALL_CONFIG, tiny_checkpoint)
    message = str(info.value)
    assert 'tiny.pth does not fit' in message
    assert 'of the wrong shape (first: ' in message and '--partial' in message
    with pytest.raises(CheckpointError, match='does not fit'):
        MultiTaskInferencer(SMALL_CONFIG, weights=tiny_checkpoint)
    data = [f'test_dataloader.dataset.data_root={demo_root}']
    test = _run('tools/test.py', SMALL_CONFIG, tiny_checkpoint,
                '--work-dir', str(tmp_path / 'w'), '--cfg-options', *data)
    assert test.returncode != 0
    assert 'does not fit' in test.stderr and 'tiny.pth' in test.stderr
    # Explicitly partial: only the keys that fit are loaded.
    model = init_model(SMALL_CONFIG, tiny_checkpoint, allow_partial=True)
    tiny = torch.load(tiny_checkpoint)['state_dict']
    fits = [k for k, v in model.state_dict().items()
            if k in tiny and v.shape == tiny[k].shape]
    assert fits and all(torch.equal(model.state_dict()[k], tiny[k])
                        for k in fits)


def test_a_checkpoint_of_a_different_model_entirely_is_refused(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'fc.weight': torch.ones(2, 2)}), path)
    with pytest.raises(CheckpointError, match='no key fits'):
        init_model(TINY_CONFIG, path, allow_partial=True)


def test_a_checkpoint_that_fits_the_heads_alone_is_refused(tiny_checkpoint,
                                                          tmp_path):
    """Heads of one shape fit across architectures (MTAN's ASPP heads fit
    SquadNet's); without any backbone weight it is another model's."""
    state = torch.load(tiny_checkpoint)['state_dict']
    heads = {k: v for k, v in state.items() if k.startswith('heads.')}
    path = str(tmp_path / 'heads.pth')
    torch.save(dict(state_dict=heads), path)
    with pytest.raises(CheckpointError,
                       match="none of the backbone's weights fits"):
        init_model(TINY_CONFIG, path, allow_partial=True)


def test_train_load_from_loads_what_fits_and_refuses_another_model(
        tiny_checkpoint, demo_root, tmp_path):
    """``load_from`` (fine-tuning) loads the keys that fit and names the
    rest; mmengine alone loaded nothing of another architecture's
    checkpoint without stopping."""
    data = [f'train_dataloader.dataset.data_root={demo_root}',
            f'val_dataloader.dataset.data_root={demo_root}',
            'train_cfg.max_epochs=1']
    other = str(tmp_path / 'other.pth')
    state = torch.load(tiny_checkpoint)['state_dict']
    torch.save(dict(state_dict={
        k.replace('backbone.', 'backbone.encoder.'): v
        for k, v in state.items()}), other)
    refused = _run('tools/train.py', TINY_CONFIG, '--work-dir',
                   str(tmp_path / 'a'), '--cfg-options',
                   f'load_from={other}', *data)
    assert refused.returncode != 0
    assert "none of the backbone's weights fits" in refused.stderr
    assert 'Epoch(train)' not in refused.stdout + refused.stderr
    # Another semseg head width: everything else loads.
    tuned = _run('tools/train.py', TINY_CONFIG, '--work-dir',
                 str(tmp_path / 'b'), '--cfg-options',
                 f'load_from={tiny_checkpoint}',
                 'model.heads.semseg.channels=8', *data)
    log = tuned.stdout + tuned.stderr
    assert tuned.returncode == 0, log[-3000:]
    assert re.search(r'tiny\.pth loaded in part: \d+ of the model\'s \d+ '
                     r'weight tensors not loaded \(heads\.semseg \d+\)',
                     log), log[-3000:]
    assert 'Epoch(train) [1]' in log


def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'latest.pth')
    backend = get_file_backend(path)
    backend.put(b'complete checkpoint', path)

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'new checkpoint that never finishes', path)
    monkeypatch.undo()
    with open(path, 'rb') as f:
        assert f.read() == b'complete checkpoint'
    assert os.listdir(tmp_path) == ['latest.pth']


def test_written_files_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = str(tmp_path / 'ckpt.pth')
        get_file_backend(path).put(b'data', path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_resume_finds_the_newest_checkpoint_when_last_checkpoint_is_empty(
        tmp_path):
    """mmengine rewrites ``last_checkpoint`` with a plain open: a kill in
    that instant leaves it empty, and --resume takes the newest checkpoint
    of the work directory instead of training from scratch."""
    from mmsquad.utils.checkpoint import latest_checkpoint
    for step in (2, 10, 3):
        torch.save(dict(meta=dict(iter=step)), tmp_path / f'iter_{step}.pth')
    torch.save({}, tmp_path / 'best_semseg_mIoU_iter_20.pth')
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'iter_3.pth'))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_3.pth')
    pointer.write_text('')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')
    pointer.unlink()
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')
    assert latest_checkpoint(str(tmp_path / 'nothing')) is None
