"""GradConflictHook: what it measures, that it leaves training unchanged,
and gradient surgery + the hook under 2-process CPU DDP."""
import glob
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import TINY_CONFIG
from mmsquad.engine import GradConflictHook
from mmsquad.utils.precision import cpu_supports_bfloat16
from mmsquad.models.utils import task_losses
from toolkit.run_logs import read_scalars
from toolkit.grad_conflict_plot import conflict_curves
from test_tools import run

TASKS = ['semseg', 'human_parts', 'sal', 'normals']


def tiny_cfg(demo_root: str, work_dir: str, **changes) -> Config:
    cfg = Config.fromfile(TINY_CONFIG)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = demo_root
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100,
                                        save_last=False)
    cfg.visualizer.pop('name')
    cfg.merge_from_dict(changes)
    return cfg


def test_hook_leaves_the_updates_unchanged(demo_root, tmp_path):
    runs = {}
    for name, hooks in (('plain', []),
                        ('hook', [dict(type='GradConflictHook',
                                       interval=1)])):
        runner = Runner.from_cfg(tiny_cfg(demo_root, str(tmp_path / name),
                                          custom_hooks=hooks))
        runner.train()
        runs[name] = (runner.model.state_dict(), runner.message_hub)
    for key, value in runs['plain'][0].items():
        assert torch.equal(value, runs['hook'][0][key]), key
    hub = runs['hook'][1]
    for group in ('backbone', 'backbone.stem', 'backbone.stages.0',
                  'backbone.stages.2'):
        for stat in ('cos_mean', 'conflict_rate', 'magnitude_ratio',
                     'cos_semseg_normals'):
            assert f'train/grad_conflict/{group}/{stat}' in hub.log_scalars
    # Measured at every one of the 4 iterations.
    assert len(hub.log_scalars['train/grad_conflict/backbone/cos_mean']
               .data[0]) == 4


def test_hook_measures_the_per_task_backbone_cosines(demo_root, tmp_path):
    runner = Runner.from_cfg(tiny_cfg(demo_root, str(tmp_path / 'w')))
    model = runner.model
    model.train()
    batch = next(iter(runner.train_dataloader))
    hook = GradConflictHook(interval=1, groups={'backbone': r'^backbone\.'})
    torch.manual_seed(0)
    optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    stats = hook.measure(model, batch, optim_wrapper)
    # Reference: one ordinary backward per task.
    grads = []
    for task in TASKS:
        torch.manual_seed(0)
        data = model.data_preprocessor(batch, True)
        loss = task_losses(model(**data, mode='loss'))[task]
        model.zero_grad()
        loss.backward()
        grads.append(np.concatenate([
            (p.grad if p.grad is not None else torch.zeros_like(p))
            .reshape(-1).numpy() for p in model.backbone.parameters()]))
    grads = np.stack(grads)
    unit = grads / np.linalg.norm(grads, axis=1, keepdims=True)
    cos = unit @ unit.T
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    assert stats['backbone/cos_semseg_sal'] == pytest.approx(cos[0, 2],
                                                             abs=1e-5)
    assert stats['backbone/cos_mean'] == pytest.approx(
        np.mean([cos[i, j] for i, j in pairs]), abs=1e-5)
    assert stats['backbone/conflict_rate'] == pytest.approx(
        np.mean([cos[i, j] < 0 for i, j in pairs]))


@pytest.mark.skipif(not cpu_supports_bfloat16(),
                    reason='CPU bfloat16 autocast needs avx512_bf16/AMX')
def test_hook_measures_under_cpu_bfloat16_autocast(demo_root, tmp_path):
    """The hook runs inside the optim wrapper's autocast. On this tiny model
    at initialisation bfloat16 moves the backbone's per-task gradients far
    from float32 (cosine 0.2-0.5 between the two), so the pairwise cosines
    near 0 change sign; only their validity is checked."""
    runner = Runner.from_cfg(tiny_cfg(demo_root, str(tmp_path / 'w')))
    model = runner.model
    model.train()
    batch = next(iter(runner.train_dataloader))
    hook = GradConflictHook(interval=1, groups={'backbone': r'^backbone\.'})
    stats = {}
    for wrapper in ('OptimWrapper', 'CPUAmpOptimWrapper'):
        optim_wrapper = runner.build_optim_wrapper(
            dict(type=wrapper, optimizer=dict(type='SGD', lr=0.1)))
        torch.manual_seed(0)
        stats[wrapper] = hook.measure(model, batch, optim_wrapper)
    exact, bf16 = stats['OptimWrapper'], stats['CPUAmpOptimWrapper']
    cosines = [k for k in exact if '/cos_' in k]
    assert len(cosines) == 7  # the mean and six pairs
    assert all(-1 <= bf16[k] <= 1 for k in cosines)
    assert all(bf16[k] != exact[k] for k in cosines)  # autocast was on


def test_hook_rejects_a_group_without_parameters(demo_root, tmp_path):
    runner = Runner.from_cfg(tiny_cfg(demo_root, str(tmp_path / 'w')))
    hook = GradConflictHook(groups={'nothing': r'^no_such_module\.'})
    batch = next(iter(runner.train_dataloader))
    optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    with pytest.raises(ValueError, match="group 'nothing'"):
        hook.measure(runner.model, batch, optim_wrapper)


def pcgrad_ddp_run(base_config: str, demo_root: str, tmp_path, port: int,
                   *args: str):
    """Train ``base_config`` for one epoch with PCGrad and the conflict
    hook at every iteration, in 2 CPU processes (``tools/dist_train.sh``);
    the finished process and the work directory."""
    config = tmp_path / 'pcgrad_ddp.py'
    config.write_text(
        f"_base_ = ['{base_config}']\n"
        "optim_wrapper = dict(type='GradSurgeryOptimWrapper', "
        "aggregator=dict(type='PCGrad'))\n"
        "custom_hooks = [dict(type='GradConflictHook', interval=1)]\n"
        f"train_dataloader = dict(dataset=dict(data_root='{demo_root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{demo_root}'))\n"
        "test_dataloader = val_dataloader\n"
        "train_cfg = dict(max_epochs=1, val_interval=1)\n")
    work_dir = str(tmp_path / 'work')
    result = run(['bash', 'tools/dist_train.sh', str(config), '2',
                  '--work-dir', work_dir, *args],
                 PYTHON=sys.executable, PORT=str(port), OMP_NUM_THREADS='1')
    return result, work_dir


@pytest.mark.parametrize('amp', [False, pytest.param(True, marks=(
    pytest.mark.skipif(torch.cuda.is_available() or
                       not cpu_supports_bfloat16(),
                       reason='CPU bfloat16 autocast needs '
                       'avx512_bf16/AMX')))])
def test_pcgrad_and_hook_under_two_process_cpu_ddp(demo_root, tmp_path, amp):
    result, work_dir = pcgrad_ddp_run(TINY_CONFIG, demo_root, tmp_path,
                                      29617 + amp,
                                      *(['--amp'] if amp else []))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    if amp:  # a real CPU bfloat16 run of PCGrad and the hook
        assert '--amp: CPU bfloat16 autocast, no loss scaler ' \
            '(GradSurgeryOptimWrapper)' in log
    assert 'Epoch(train) [1][2/2]' in log
    assert 'grad_conflict/backbone/cos_mean' in log
    assert 'grad_conflict/backbone.stages.1/conflict_rate' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    curves = conflict_curves(read_scalars(work_dir))
    assert curves['cos_mean'][0] == [1, 2]  # measured at both iterations


def write_run(work_dir, records):
    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records) + '\n')


def test_plot_tool_reads_the_curves_of_several_runs(tmp_path):
    key = 'grad_conflict/backbone/{}'.format
    for name, sign in (('squad', 1), ('shared', -1)):
        write_run(tmp_path / name, [
            {'step': s, 'loss': 1.0, key('cos_mean'): sign * s / 100,
             key('conflict_rate'): 0.5} for s in (10, 20, 30)] +
            [{'step': 30, 'semseg/mIoU': 40.0}])
    curves = conflict_curves(read_scalars(str(tmp_path / 'shared')))
    assert curves['cos_mean'] == ([10, 20, 30], [-0.1, -0.2, -0.3])
    out = tmp_path / 'plot.png'
    result = run([sys.executable, 'tools/analysis_tools/plot_grad_conflict.py',
                  str(tmp_path / 'squad'), str(tmp_path / 'shared'),
                  '--window', '2', '--out', str(out)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.stat().st_size > 10000  # two panels, two curves each
    result = run([sys.executable, 'tools/analysis_tools/plot_grad_conflict.py',
                  str(tmp_path / 'squad'), '--window', '4'])
    assert result.returncode != 0
    assert 'window must be 1 to 3' in result.stderr


def test_plot_tool_names_what_is_missing(tmp_path):
    write_run(tmp_path / 'nohook', [{'step': 10, 'loss': 1.0}])
    result = run([sys.executable, 'tools/analysis_tools/plot_grad_conflict.py',
                  str(tmp_path / 'nohook'), str(tmp_path / 'empty')])
    assert result.returncode != 0
    assert 'grad_conflict/backbone/cos_mean' in result.stderr
    with pytest.raises(FileNotFoundError, match='empty'):
        read_scalars(str(tmp_path / 'empty'))


def test_tensorboard_backend_receives_the_conflict_scalars(demo_root,
                                                           tmp_path):
    """TensorBoard is a dependency: mmengine's backend writes the run's
    scalars, the conflict statistics among them, as event files."""
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    cfg = tiny_cfg(demo_root, str(tmp_path), custom_hooks=[
        dict(type='GradConflictHook', interval=1)])
    cfg.visualizer.vis_backends = [dict(type='TensorboardVisBackend')]
    Runner.from_cfg(cfg).train()
    events, = glob.glob(str(tmp_path / '*' / 'vis_data' /
                            'events.out.tfevents.*'))
    accumulator = EventAccumulator(events)
    accumulator.Reload()
    assert 'grad_conflict/shared/cos_mean' in \
        accumulator.Tags()['scalars']
