"""What survives a crash: exact resume, crash-safe checkpoints, a stop at
the first non-finite loss, early config errors."""
import functools
import glob
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch

from conftest import REPO, TINY_CONFIG

TESTS = osp.join(REPO, 'tests')


def _data(root):
    return [f'{k}.dataset.data_root={root}' for k in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]


def _train(work_dir, *options, resume=False, nproc=1, env=None, port=29650,
           config=TINY_CONFIG):
    """tools/train.py (or dist_train.sh) in its own session, so that a
    fault can kill the whole job and nothing else."""
    env = {**os.environ, 'PYTHONPATH': f'{REPO}:{TESTS}', **(env or {})}
    if nproc == 1:
        cmd = [sys.executable, 'tools/train.py', config]
    else:
        cmd = ['bash', 'tools/dist_train.sh', config, str(nproc)]
        env.update(PYTHON=sys.executable, PORT=str(port), OMP_NUM_THREADS='1')
    if resume:
        cmd += ['--resume'] + ([] if resume is True else [str(resume)])
    cmd += ['--work-dir', str(work_dir),
            '--cfg-options', *options]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900, start_new_session=True)


def _weights(path):
    return torch.load(path, map_location='cpu',
                      weights_only=False)['state_dict']


def _assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _log(result):
    return result.stdout + result.stderr


# 8 images, batch 2: 4 iterations an epoch, 3 epochs; dropout (heads) and
# random crops and flips are on; checkpoints after every iteration.
EVERY_ITER = ['train_cfg.max_epochs=3', 'train_cfg.val_interval=1',
              'default_hooks.checkpoint.by_epoch=False',
              'default_hooks.checkpoint.interval=1',
              'default_hooks.checkpoint.max_keep_ckpts=20',
              'randomness.seed=0']


@pytest.fixture(scope='module')
def uninterrupted(demo_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    result = _train(work_dir, *_data(demo_root), *EVERY_ITER)
    assert result.returncode == 0, result.stderr[-3000:]
    return work_dir


@pytest.mark.parametrize('resume_at', [3, 4, 6])
def test_resume_is_bitwise_equal_to_the_uninterrupted_run(
        uninterrupted, demo_root, tmp_path, resume_at):
    # 3 and 6: inside an epoch; 4: the epoch's last iteration (mmengine
    # would replay the whole next epoch).
    work_dir = tmp_path / 'resumed'
    work_dir.mkdir()
    ckpt = osp.join(uninterrupted, f'iter_{resume_at}.pth')
    result = _train(work_dir, *_data(demo_root), *EVERY_ITER, resume=ckpt)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'resumed epoch: {(resume_at - 1) // 4}, iter: {resume_at}' in \
        _log(result)
    trained = sorted(int(osp.basename(p)[5:-4]) for p in glob.glob(
        osp.join(work_dir, 'iter_*.pth')))
    assert trained == list(range(resume_at + 1, 13))
    _assert_bitwise_equal(_weights(osp.join(work_dir, 'iter_12.pth')),
                          _weights(osp.join(uninterrupted, 'iter_12.pth')))


@pytest.mark.parametrize('resume_at, iters, retrained', [
    (2, [3, 4, 5, 6, 7], 0), (3, [4, 5, 6, 7, 8], 2), (4, [5, 6, 7, 8], 0)])
def test_resume_with_another_batch_size_continues_the_epoch(
        uninterrupted, demo_root, tmp_path, resume_at, iters, retrained):
    """Resumed at batch 4 (as on twice the processes) from checkpoints of
    batch 2: the epoch continues after the samples trained, and every
    later epoch trains whole (the loop once took the checkpoint's
    iterations for this run's, skipping whole epochs)."""
    work_dir = tmp_path / 'resumed'
    work_dir.mkdir()
    ckpt = osp.join(uninterrupted, f'iter_{resume_at}.pth')
    result = _train(work_dir, *_data(demo_root), *EVERY_ITER,
                    'train_dataloader.batch_size=4', resume=ckpt)
    log = _log(result)
    assert result.returncode == 0, log[-3000:]
    trained = sorted(int(osp.basename(p)[5:-4]) for p in glob.glob(
        osp.join(work_dir, 'iter_*.pth')))
    assert trained == iters
    assert 'Epoch(train) [2][2/2]' in log and 'Epoch(train) [3][2/2]' in log
    if resume_at < 4:
        assert f'saved {2 * resume_at} samples into epoch 1' in log
        assert f'continues after sample {4 * (resume_at // 2)}' in log
    assert (f'the last {retrained} are trained again' in log) == bool(
        retrained)


def test_resume_from_an_epoch_checkpoint_is_bitwise_equal(demo_root,
                                                          tmp_path):
    by_epoch = [o for o in EVERY_ITER if 'checkpoint' not in o]
    full = _train(tmp_path / 'full', *_data(demo_root), *by_epoch)
    assert full.returncode == 0, full.stderr[-3000:]
    resumed_dir = tmp_path / 'resumed'
    resumed = _train(resumed_dir, *_data(demo_root), *by_epoch,
                     resume=tmp_path / 'full' / 'epoch_1.pth')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_bitwise_equal(_weights(resumed_dir / 'epoch_3.pth'),
                          _weights(tmp_path / 'full' / 'epoch_3.pth'))


def test_iteration_based_resume_is_bitwise_equal(demo_root, tmp_path):
    config = tmp_path / 'iter_based.py'
    config.write_text(
        f"_base_ = ['{TINY_CONFIG}']\n"
        "train_cfg = dict(_delete_=True, "
        "type='ExactResumeIterBasedTrainLoop', max_iters=8, val_interval=4)\n"
        "param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, "
        "begin=0, end=8, by_epoch=False)]\n"
        "default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1, "
        "max_keep_ckpts=20))\n"
        "log_processor = dict(by_epoch=False)\n"
        "randomness = dict(seed=0)\n")
    train = functools.partial(_train, config=str(config))
    full = train(tmp_path / 'full', *_data(demo_root))
    assert full.returncode == 0, full.stderr[-3000:]
    # Iteration 3 is inside the first pass over the 4-batch data; the
    # resumed run crosses into the second pass and a validation.
    resumed = train(tmp_path / 'resumed', *_data(demo_root),
                    resume=tmp_path / 'full' / 'iter_3.pth')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_bitwise_equal(_weights(tmp_path / 'resumed' / 'iter_8.pth'),
                          _weights(tmp_path / 'full' / 'iter_8.pth'))


def test_diverged_training_stops_before_saving(demo_root, tmp_path):
    result = _train(tmp_path, *_data(demo_root), *EVERY_ITER,
                    'optim_wrapper.optimizer.lr=1e12')
    assert result.returncode != 0
    message = [ln for ln in result.stderr.splitlines()
               if ln.startswith('FloatingPointError')]
    assert message, result.stderr[-3000:]
    assert 'training diverged at iteration' in message[0]
    assert '.loss_' in message[0] and 'nan' in message[0].lower()
    for path in glob.glob(osp.join(tmp_path, 'iter_*.pth')):
        for value in _weights(path).values():
            assert torch.isfinite(value.float()).all(), path


def test_a_checkpoint_of_non_finite_weights_is_never_written(tmp_path):
    from mmsquad.registry import HOOKS
    hook = HOOKS.build(dict(type='SafeCheckpointHook', interval=1))

    class Runner:
        iter = 7

    checkpoint = dict(state_dict=dict(ok=torch.ones(2),
                                      bad=torch.tensor([1.0, float('nan')]),
                                      count=torch.tensor(3)))
    with pytest.raises(FloatingPointError, match='iteration 7.*bad'):
        hook.before_save_checkpoint(Runner(), checkpoint)


def test_a_typo_in_a_hook_setting_fails_before_training(demo_root, tmp_path):
    result = _train(tmp_path, *_data(demo_root), *EVERY_ITER,
                    'default_hooks.checkpoint.intervall=1')
    assert result.returncode != 0
    assert "unknown settings ['intervall']" in result.stderr
    assert 'Epoch(train)' not in _log(result)


#: 8 images in batches of 7: every epoch ends in a batch of one sample.
LAST_BATCH_OF_ONE = ['train_dataloader.batch_size=7',
                     'train_dataloader.drop_last=False',
                     'train_cfg.max_epochs=1', 'train_cfg.val_interval=2']


@pytest.mark.parametrize('options,samples', [
    (LAST_BATCH_OF_ONE, '8 samples per process in batches of 7'),
    # The first batch is the batch of one: stopped before torch fails.
    (['train_dataloader.dataset.indices=1', *LAST_BATCH_OF_ONE[1:]],
     '1 sample per process in batches of 2')])
def test_an_epoch_ending_in_one_sample_stops_at_the_first_iteration(
        demo_root, tmp_path, options, samples):
    """The heads' image-pool BatchNorm cannot train on one sample: the run
    stops at its first iteration, not at the end of the epoch."""
    result = _train(tmp_path, *_data(demo_root), *options)
    assert result.returncode != 0
    message = [ln for ln in result.stderr.splitlines()
               if ln.startswith('ValueError')]
    assert message, result.stderr[-3000:]
    assert samples in message[0]
    assert 'heads.semseg.image_pool.norm' in message[0]
    assert 'drop_last=True' in message[0]
    assert 'Expected more than 1 value per channel' not in result.stderr
    assert not glob.glob(osp.join(tmp_path, '*.pth'))


def test_a_batch_of_one_trains_where_no_batchnorm_sees_one_value(
        demo_root, tmp_path):
    """With the image pools normalised by GroupNorm, BatchNorm sees whole
    feature maps, trains on one sample, and the run is left alone."""
    group_norm = [f'model.heads.{task}.norm_cfg.{key}'
                  for task in ('semseg', 'human_parts', 'sal', 'normals')
                  for key in ('type=GN', 'num_groups=4')]
    result = _train(tmp_path, *_data(demo_root), *LAST_BATCH_OF_ONE,
                    *group_norm)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Epoch(train) [1][2/2]' in _log(result)


@pytest.mark.long
def test_killed_two_process_training_resumes_bitwise(demo_root, tmp_path):
    # Two processes, 2 iterations an epoch, 3 epochs; only ONE checkpoint
    # kept, the setting in which mmengine's hook lost every checkpoint.
    config = tmp_path / 'faulty.py'
    config.write_text(
        f"_base_ = ['{TINY_CONFIG}']\n"
        "custom_imports = dict(imports=['fault_injection'],\n"
        "                      allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='KillJobHook')]\n")
    options = [*_data(demo_root), *EVERY_ITER[:-1],
               'default_hooks.checkpoint.max_keep_ckpts=1',
               'randomness.seed=0']
    train = functools.partial(_train, nproc=2, config=str(config))
    full = train(tmp_path / 'full', *options, port=29661)
    assert full.returncode == 0, full.stderr[-3000:]
    reference = _weights(tmp_path / 'full' / 'iter_6.pth')
    for when, at, port in (('save', 3, 29662), ('step', 5, 29663),
                           ('save', 6, 29664)):
        work_dir = tmp_path / f'{when}_{at}'
        killed = train(work_dir, *options, port=port,
                       env=dict(FAULT_ITER=str(at), FAULT_WHEN=when))
        assert killed.returncode == -signal.SIGKILL, _log(killed)[-3000:]
        # The kill left a loadable checkpoint and last_checkpoint names it.
        with open(work_dir / 'last_checkpoint') as f:
            last = f.read().strip()
        assert osp.basename(last) == f'iter_{at - 1}.pth'
        assert torch.load(last, weights_only=False)['meta']['iter'] == at - 1
        resumed = train(work_dir, *options, port=port, resume=True)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert not glob.glob(osp.join(work_dir, '.*.tmp'))
        _assert_bitwise_equal(_weights(work_dir / 'iter_6.pth'), reference)
