"""The command-line tools, run as a user runs them."""
import glob
import hashlib
import importlib.util
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import pytest
import torch

from conftest import REPO, TINY_CONFIG
from mmsquad.visualization.multitask_visualizer import LINE


def run(args, timeout=900, **env):
    env = {**os.environ, 'PYTHONPATH': REPO, **env}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def tool(name, *args):
    return run([sys.executable, osp.join('tools', name), *args])


def test_dist_train_on_two_cpu_processes_then_resume(demo_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    options = ['--cfg-options', f'train_dataloader.dataset.data_root='
               f'{demo_root}', f'val_dataloader.dataset.data_root={demo_root}',
               f'test_dataloader.dataset.data_root={demo_root}',
               'train_cfg.max_epochs=1', 'train_cfg.val_interval=1']
    # Two processes on two cores: one thread each.
    env = dict(PYTHON=sys.executable, PORT='29611', OMP_NUM_THREADS='1')
    first = run(['bash', 'tools/dist_train.sh', TINY_CONFIG, '2',
                 '--work-dir', work_dir, *options], **env)
    assert first.returncode == 0, first.stderr[-3000:]
    log = first.stdout + first.stderr
    # 8 images, batch 2 per process: two processes share 2 iterations per
    # epoch (one process alone would take 4).
    assert 'Epoch(train) [1][2/2]' in log
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert "'backend': 'gloo'" in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    # No warning on every rank: torch's DDP deprecates broadcast_buffers
    # (2.13) and compares gradient strides on size-1 dimensions too.
    assert 'is deprecated' not in log
    assert 'Grad strides do not match' not in log
    assert 'semseg/mIoU' in log

    options[-2] = 'train_cfg.max_epochs=2'
    second = run(['bash', 'tools/dist_train.sh', TINY_CONFIG, '2',
                  '--work-dir', work_dir, '--resume', *options], **env)
    assert second.returncode == 0, second.stderr[-3000:]
    log = second.stdout + second.stderr
    assert 'resumed epoch: 1, iter: 2' in log
    assert 'Epoch(train) [2][2/2]' in log
    assert 'Epoch(train) [1]' not in log
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))


def test_flexible_runner_with_ddp_strategy_on_two_cpu_processes(
        demo_root, tmp_path):
    """mmengine's FlexibleRunner wraps the model in its strategy, which
    gets the CPU wrapper settings too (no device ids)."""
    work_dir = str(tmp_path / 'work')
    config = tmp_path / 'flexible.py'
    config.write_text(
        f"_base_ = ['{TINY_CONFIG}']\n"
        "runner_type = 'FlexibleRunner'\n"
        "strategy = dict(type='DDPStrategy')\n"
        f"train_dataloader = dict(dataset=dict(data_root='{demo_root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{demo_root}'))\n"
        "test_dataloader = val_dataloader\n"
        "train_cfg = dict(max_epochs=1, val_interval=1)\n")
    result = run(['bash', 'tools/dist_train.sh', str(config), '2',
                  '--work-dir', work_dir], PYTHON=sys.executable,
                 PORT='29612', OMP_NUM_THREADS='1')
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Epoch(train) [1][2/2]' in log
    assert 'semseg/mIoU' in log
    assert 'is deprecated' not in log


def _test_metrics(log: str) -> dict:
    """The metrics of a test log's ``Epoch(test)`` summary line."""
    line = [ln for ln in log.splitlines() if 'Epoch(test)' in ln][-1]
    return {key: float(value) for key, value in re.findall(
        r'(\w+/[\w.]+): (-?[\d.]+)', line)}


@pytest.mark.parametrize('extra, port', [([], '29614'),
                                         (['--tta'], '29616')])
def test_dist_test_on_three_cpu_processes_equals_one(tiny_checkpoint,
                                                     demo_root, tmp_path,
                                                     extra, port):
    """4 images on 3 processes: the sampler pads the last rank with a
    repeated image, which the collected results must drop; with --tta,
    the TTA wrapper runs inside the DDP wrapper."""
    options = [*extra, '--cfg-options',
               f'test_dataloader.dataset.data_root={demo_root}']
    one = tool('test.py', TINY_CONFIG, tiny_checkpoint, '--work-dir',
               str(tmp_path / 'one'), *options)
    assert one.returncode == 0, one.stderr[-3000:]
    three = run(['bash', 'tools/dist_test.sh', TINY_CONFIG, tiny_checkpoint,
                 '3', '--work-dir', str(tmp_path / 'three'), *options],
                PYTHON=sys.executable, PORT=port, OMP_NUM_THREADS='1')
    log = three.stdout + three.stderr
    assert three.returncode == 0, log[-3000:]
    assert 'GPU number: 3' in log
    expected = _test_metrics(one.stdout + one.stderr)
    assert 'semseg/mIoU' in expected and 'normals/mean' in expected
    assert _test_metrics(log) == pytest.approx(expected, abs=1e-3)


@pytest.mark.skipif(torch.cuda.is_available(), reason='SyncBN runs on GPUs')
@pytest.mark.parametrize('norm', ['SyncBN', 'MMSyncBN'])
def test_an_mmseg_head_with_syncbn_trains_on_two_cpu_processes(
        demo_root, tmp_path, norm):
    """mmseg's configs give their heads SyncBN, which torch's DDP refuses
    on CPU modules; the wrapper runs it as BatchNorm and says so. mmcv's
    SyncBN (MMSyncBN) holds a process group, which the build-time trial of
    the head must share rather than copy."""
    from mmengine.hub import get_config
    head = get_config('mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024'
                      '.py').model.decode_head.to_dict()
    assert head['norm_cfg']['type'] == 'SyncBN'
    for key in ('in_channels', 'num_classes'):
        head.pop(key)
    head.update(_scope_='mmseg', channels=16, in_index=-1,
                norm_cfg=dict(head['norm_cfg'], type=norm))
    config = tmp_path / 'syncbn.py'
    config.write_text(
        f"_base_ = ['{TINY_CONFIG}']\n"
        "model = dict(heads=dict(semseg=dict(\n"
        f"    _delete_=True, type='DecodeHeadAdapter', head={head!r})))\n"
        f"train_dataloader = dict(dataset=dict(data_root='{demo_root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{demo_root}'))\n"
        "test_dataloader = val_dataloader\n"
        "train_cfg = dict(max_epochs=1, val_interval=1)\n")
    result = run(['bash', 'tools/dist_train.sh', str(config), '2',
                  '--work-dir', str(tmp_path / 'work')],
                 PYTHON=sys.executable, PORT=dict(SyncBN='29613', MMSyncBN='29615')[norm],
                 OMP_NUM_THREADS='1')
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    # FCNHead: two convolutions and the one after the concatenation.
    assert ('3 SyncBN layers (heads.semseg.head.convs.0.bn, '
            'heads.semseg.head.convs.1.bn, heads.semseg.head.conv_cat.bn) '
            'run as BatchNorm') in log
    assert 'semseg/mIoU' in log


@pytest.mark.skipif(torch.cuda.is_available(), reason='FSDP runs on a GPU')
@pytest.mark.parametrize('strategy, reason', [
    ('FSDPStrategy', 'needs a GPU'),
    ('DeepSpeedStrategy', 'needs the deepspeed package')])
def test_a_strategy_that_cannot_run_here_is_refused_first(
        demo_root, tmp_path, strategy, reason):
    """torch's FSDP refuses CPU-only machines; without this check the run
    failed inside mmengine on a DDP argument it passes on."""
    if strategy == 'DeepSpeedStrategy' and \
            importlib.util.find_spec('deepspeed') is not None:
        pytest.skip('deepspeed is installed')
    config = tmp_path / 'flexible.py'
    config.write_text(
        f"_base_ = ['{TINY_CONFIG}']\n"
        "runner_type = 'FlexibleRunner'\n"
        f"strategy = dict(type='{strategy}')\n"
        f"train_dataloader = dict(dataset=dict(data_root='{demo_root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{demo_root}'))\n")
    result = tool('train.py', str(config), '--work-dir',
                  str(tmp_path / 'work'))
    assert result.returncode != 0
    assert f'strategy {strategy} {reason}' in result.stderr
    assert 'Epoch(train)' not in result.stdout + result.stderr


def test_train_then_test_reproduces_the_metrics(demo_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    data = [f'{k}.dataset.data_root={demo_root}'
            for k in ('train_dataloader', 'val_dataloader',
                      'test_dataloader')]
    train = tool('train.py', TINY_CONFIG, '--work-dir', work_dir,
                 '--cfg-options', *data, 'train_cfg.max_epochs=1',
                 'train_cfg.val_interval=1')
    assert train.returncode == 0, train.stderr[-3000:]
    val_line = [ln for ln in (train.stdout + train.stderr).splitlines()
                if 'Epoch(val)' in ln and 'semseg/mIoU' in ln][-1]
    out = str(tmp_path / 'preds.pkl')
    test = tool('test.py', TINY_CONFIG, osp.join(work_dir, 'epoch_1.pth'),
                '--work-dir', work_dir, '--out', out, '--show-dir', 'panels',
                '--cfg-options', *data)
    assert test.returncode == 0, test.stderr[-3000:]
    test_line = [ln for ln in (test.stdout + test.stderr).splitlines()
                 if 'Epoch(test)' in ln and 'semseg/mIoU' in ln][-1]

    def metric(line, key):
        return float(re.search(re.escape(key) + r': ([0-9.]+)', line)[1])

    for key in ('semseg/mIoU', 'sal/maxF', 'normals/mean'):
        assert metric(test_line, key) == pytest.approx(metric(val_line, key))
    assert osp.getsize(out) > 0

    # Published (weights and metadata only, named by its hash), the
    # checkpoint tests the same.
    publish = run([sys.executable, 'tools/misc/publish_model.py',
                   osp.join(work_dir, 'epoch_1.pth'),
                   str(tmp_path / 'tiny.pth')])
    assert publish.returncode == 0, publish.stderr[-3000:]
    published, = glob.glob(str(tmp_path / 'tiny-*.pth'))
    with open(published, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert published.endswith(f'tiny-{digest[:8]}.pth')
    assert sorted(torch.load(published, weights_only=True)) == [
        'meta', 'state_dict']
    assert "dropped ['message_hub', 'optimizer', 'param_schedulers']" in \
        publish.stdout
    retest = tool('test.py', TINY_CONFIG, published, '--work-dir',
                  str(tmp_path / 'retest'), '--cfg-options', *data)
    assert retest.returncode == 0, retest.stderr[-3000:]
    retest_line = [ln for ln in (retest.stdout + retest.stderr).splitlines()
                   if 'Epoch(test)' in ln and 'semseg/mIoU' in ln][-1]
    for key in ('semseg/mIoU', 'sal/maxF', 'normals/mean'):
        assert metric(retest_line, key) == metric(test_line, key)
    # One panel per test image, and validation panels in the work dir.
    panels = glob.glob(osp.join(work_dir, '*', 'panels', '*.png'))
    assert len(panels) == 4
    assert glob.glob(osp.join(work_dir, '*', 'vis_data', 'vis_image',
                              'val_*.png'))
    panel = cv2.imread(panels[0])
    # Input + 4 tasks, two rows (targets over predictions) of square
    # pictures, each under a caption strip and over a legend strip.
    side = panel.shape[1] // 5
    assert panel.shape[0] >= 2 * (side + LINE)


@pytest.mark.parametrize('args, message', [
    (['train.py', 'configs/squad/no_such.py'], 'no_such.py'),
    (['test.py', TINY_CONFIG, '/nowhere/ckpt.pth'], '/nowhere/ckpt.pth'),
    (['train.py', TINY_CONFIG, '--resume', '/nowhere/r.pth'],
     '/nowhere/r.pth'),
])
def test_missing_files_are_named(args, message):
    result = tool(*args)
    assert result.returncode != 0
    assert message in result.stderr


def test_unknown_type_in_config_is_named(tmp_path):
    cfg = tmp_path / 'bad.py'
    cfg.write_text(f"_base_ = ['{TINY_CONFIG}']\n"
                   "model = dict(backbone=dict(type='SquadNetXL'))\n")
    result = tool('train.py', str(cfg), '--work-dir', str(tmp_path / 'w'))
    assert result.returncode != 0
    assert 'SquadNetXL' in result.stderr


def test_install_names_a_missing_wheelhouse(tmp_path):
    result = run(['bash', 'tools/misc/install.sh', '--venv',
                  str(tmp_path / 'venv'), '--wheelhouse', '/no/wheels'])
    assert result.returncode != 0
    assert '/no/wheels' in result.stderr
    assert not osp.exists(tmp_path / 'venv')


def test_test_tool_precision(tiny_checkpoint, demo_root, tmp_path):
    from mmsquad.utils.precision import cpu_supports_bfloat16
    data = f'test_dataloader.dataset.data_root={demo_root}'
    fp16 = tool('test.py', TINY_CONFIG, tiny_checkpoint, '--precision',
                'fp16', '--cfg-options', data)
    assert fp16.returncode != 0 and 'fp16 needs a CUDA' in fp16.stderr
    if not cpu_supports_bfloat16() or torch.cuda.is_available():
        pytest.skip('CPU bfloat16 needs avx512_bf16/AMX')
    lines = {}
    for precision in ('fp32', 'bf16'):
        result = tool('test.py', TINY_CONFIG, tiny_checkpoint, '--precision',
                      precision, '--work-dir', str(tmp_path / precision),
                      '--cfg-options', data)
        assert result.returncode == 0, result.stderr[-3000:]
        lines[precision] = [ln for ln in (result.stdout + result.stderr)
                            .splitlines() if 'Epoch(test)' in ln
                            and 'semseg/mIoU' in ln][-1]

    def metric(line, key):
        return float(re.search(re.escape(key) + r': ([0-9.]+)', line)[1])

    for key, tolerance in (('semseg/mIoU', 1.0), ('sal/maxF', 1.0),
                           ('normals/mean', 1.0)):
        exact, half = (metric(lines[p], key) for p in ('fp32', 'bf16'))
        assert half == pytest.approx(exact, abs=tolerance), key
    metrics = {p: line.split('data_time')[0] for p, line in lines.items()}
    assert metrics['fp32'] != metrics['bf16']  # the test ran in bfloat16


@pytest.mark.parametrize('script', ['tools/train.py', 'tools/test.py',
                                    'tools/deployment/export_onnx.py',
                                    'demo/image_demo.py'])
def test_help_answers_before_torch_and_mmengine_load(script):
    """--help parses before the heavy imports (seconds of CPU): neither
    torch nor mmengine is imported."""
    result = run([sys.executable, '-X', 'importtime', script, '--help'])
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'usage:' in result.stdout
    imported = {line.rsplit('|', 1)[-1].strip()
                for line in result.stderr.splitlines() if '|' in line}
    assert not {'torch', 'mmengine'} & imported


def test_precision_choices_are_the_librarys():
    from mmsquad.utils.precision import PRECISIONS
    from toolkit.cli import PRECISION_CHOICES
    assert set(PRECISION_CHOICES) == set(PRECISIONS)


def test_training_logs_its_first_iteration_at_once(demo_root, tmp_path):
    """With a logger interval longer than the run, the first iteration is
    still reported (loss, time, ETA) before the epoch ends."""
    data = [f'{loader}.dataset.data_root={demo_root}' for loader in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]
    result = tool('train.py', TINY_CONFIG, '--work-dir', str(tmp_path),
                  '--cfg-options', *data, 'train_cfg.max_epochs=1',
                  'default_hooks.logger.interval=50')
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    first = [line for line in log.splitlines() if 'Epoch(train) [1][1/4]'
             in line]
    assert first and 'eta:' in first[0] and 'loss:' in first[0]


def test_a_config_with_no_workers_loads_without_keeping_workers(demo_root):
    from mmengine.runner import Runner

    from toolkit.tool_setup import load_tool_config
    cfg = load_tool_config(
        osp.join(REPO, 'configs', 'squad', 'demo.py'),
        {'train_dataloader.num_workers': 0,
         'train_dataloader.dataset.data_root': demo_root})
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.persistent_workers  # it has workers
    batch = next(iter(Runner.build_dataloader(cfg.train_dataloader)))
    assert len(batch['inputs']) == cfg.train_dataloader.batch_size


def test_publish_refuses_a_diverged_or_foreign_file(tiny_checkpoint,
                                                    tmp_path):
    checkpoint = torch.load(tiny_checkpoint, weights_only=True)
    name = next(k for k, v in checkpoint['state_dict'].items()
                if v.is_floating_point())
    checkpoint['state_dict'][name][0] = float('nan')
    torch.save(checkpoint, tmp_path / 'diverged.pth')
    torch.save(dict(model=checkpoint['state_dict']), tmp_path / 'other.pth')
    for source, message in (('diverged.pth', f'{name} holds NaN or inf'),
                            ('other.pth', "has no state_dict (keys: "
                             "['model'])")):
        result = run([sys.executable, 'tools/misc/publish_model.py',
                      str(tmp_path / source), str(tmp_path / 'out.pth')])
        assert result.returncode != 0
        assert message in result.stderr
    assert not glob.glob(str(tmp_path / 'out*'))


def test_print_config_merges_bases_and_options(tmp_path):
    saved = str(tmp_path / 'demo_full.py')
    result = run([sys.executable, 'tools/misc/print_config.py',
                  'configs/squad/demo.py', '--cfg-options',
                  'train_cfg.max_epochs=2', '--save-path', saved])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "type='ExactResumeEpochBasedTrainLoop'" in result.stdout
    from mmengine.config import Config

    from mmsquad.utils.config import read_config
    expected = read_config(osp.join(REPO, 'configs', 'squad', 'demo.py'),
                           {'train_cfg.max_epochs': 2})
    merged = Config.fromfile(saved)
    assert merged.train_cfg.max_epochs == 2
    for key in ('model', 'train_dataloader', 'test_dataloader',
                'optim_wrapper', 'tta_pipeline'):
        assert merged[key] == expected[key], key
