"""Inference folding of a whole model, and the analysis tools."""
import copy
import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from torch import nn

from conftest import REPO, TINY_CONFIG, OpRecorder
from mmsquad.models.deploy import fold_batchnorm
from mmsquad.models.layers import ConvNormAct
from mmsquad.models.layers.conv_norm_act import fused_conv_applies
from mmsquad.registry import MODELS
from toolkit import timing
from toolkit.roofline import count_conv_work


@pytest.mark.parametrize('act_cfg', [dict(type='GELU'), dict(type='ReLU'),
                                     None, dict(type='SiLU')],
                         ids=['gelu', 'relu', 'none', 'silu'])
def test_folded_conv_fuses_its_activation_only_for_plain_inference(act_cfg):
    torch.manual_seed(0)
    layer = ConvNormAct(8, 12, 3, groups=2, act_cfg=act_cfg).eval()
    layer.norm.running_mean.uniform_(-0.5, 0.5)
    layer.norm.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 8, 11, 13)
    with torch.no_grad():
        ref = layer(x)
    layer = layer.folded()
    with torch.no_grad(), OpRecorder() as ops:
        fused = layer(x.contiguous(memory_format=torch.channels_last))
        # False on builds without oneDNN
        onednn = fused_conv_applies(x, layer.conv.weight)
    fusable = act_cfg is None or act_cfg['type'] != 'SiLU'
    assert ('_convolution_pointwise' in ops.names) == (fusable and onednn)
    with OpRecorder() as ops:  # recording gradients: the standard operators
        plain = layer(x)
    assert '_convolution_pointwise' not in ops.names
    for out in (fused, plain):
        assert ((out - ref).norm() / ref.norm()).item() <= 1e-5


def test_folded_conv_fuses_in_bfloat16_but_not_under_autocast():
    torch.manual_seed(0)
    layer = ConvNormAct(8, 12, 3).eval().folded()
    x = torch.randn(2, 8, 11, 13)
    with torch.no_grad(), OpRecorder() as ops, \
            torch.autocast('cpu', dtype=torch.bfloat16):
        autocast_out = layer(x)
    assert '_convolution_pointwise' not in ops.names
    assert autocast_out.dtype == torch.bfloat16

    layer.to(torch.bfloat16)
    xb = x.to(torch.bfloat16)
    if not (torch.backends.mkldnn.is_available()
            and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        pytest.skip('no bfloat16 oneDNN convolution on this CPU')
    with torch.no_grad(), OpRecorder() as ops:
        fused = layer(xb)
    assert '_convolution_pointwise' in ops.names
    plain = layer(xb)  # recording gradients: the standard operators
    assert fused.dtype == torch.bfloat16
    assert ((fused.float() - plain.float()).norm() /
            plain.float().norm()).item() <= 1e-2


def test_folded_model_matches_eval_model():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskModel',
        backbone=dict(type='SquadNet', arch='tiny'),
        neck=dict(type='ExpertSquadNeck', levels=[2]),
        heads=dict(semseg=dict(type='ASPPTaskHead', channels=16),
                   normals=dict(type='ASPPTaskHead', channels=16))))
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    model.eval()
    folded = fold_batchnorm(copy.deepcopy(model))
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in folded.modules())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        out = folded(x.to(memory_format=torch.channels_last), mode='tensor')
    for task in ref:
        err = (out[task] - ref[task]).norm() / ref[task].norm()
        assert err <= 1e-5


@pytest.mark.parametrize(
    'size,kernel,stride,dilation,groups',
    [(32, 3, 1, 36, 1), (32, 3, 1, 12, 3), (9, 3, 2, 1, 6), (16, 1, 1, 1, 1),
     (7, 5, 2, 2, 2)],
    ids=['dilation-beyond-map', 'dilated-grouped', 'depthwise-stride2',
         'pointwise', 'odd-size'])
def test_conv_work_counts_only_the_taps_inside_the_input(
        size, kernel, stride, dilation, groups):
    conv = nn.Conv2d(6, 12, kernel, stride, dilation * (kernel - 1) // 2,
                     dilation, groups, bias=False)
    nn.init.ones_(conv.weight)
    x = torch.ones(2, 6, size, size + 3)
    work = count_conv_work(lambda: conv(x))
    # With ones everywhere each output sums its taps inside the input.
    with torch.no_grad():
        assert work.effective_macs == conv(x).sum().item()
    assert work.macs == FlopAnalyzer(conv, (x,)).total()
    assert work.effective_macs <= work.macs


def test_conv_work_counts_the_fused_onednn_convolution():
    layer = ConvNormAct(8, 16, 3, dilation=2).eval().folded()
    x = torch.randn(1, 8, 10, 10)
    if not torch.backends.mkldnn.is_available():
        pytest.skip('this torch build has no fused oneDNN convolution')
    with torch.no_grad(), OpRecorder() as ops:
        fused = count_conv_work(lambda: layer(x))
    assert '_convolution_pointwise' in ops.names
    standard = count_conv_work(lambda: layer(x))  # recording gradients
    assert fused == standard and fused.effective_macs > 0


def test_median_times_interleave_and_skip_the_warmup(monkeypatch):
    clock, calls = [0.0], []
    monkeypatch.setattr(timing.time, 'perf_counter', lambda: clock[0])

    def step(key, durations):
        def fn():
            clock[0] += durations[sum(k == key for k in calls)]
            calls.append(key)
        return fn

    times = timing.median_times(
        dict(a=step('a', [100, 100, 3, 1, 2]), b=step('b', [50, 7, 9, 8, 5])),
        warmup=2, runs=3)
    assert calls == ['a', 'b'] * 5
    assert times == dict(a=2, b=8)


def test_get_flops_reports_backbone_and_model():
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/get_flops.py', TINY_CONFIG,
         '--shape', '64', '64'], cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith('backbone') and '4.023M' in line
               for line in lines)
    assert any(line.startswith('model') and 'FLOPs' in line
               for line in lines)


def benchmark(*args):
    return subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark.py', *args],
        cwd=REPO, capture_output=True, text=True, timeout=600)


def test_benchmark_times_the_whole_test_set_when_it_is_small(
        demo_root, tiny_checkpoint, tmp_path):
    """mmseg's ``benchmark.py`` arguments; a test set of 4 images, fewer
    than --max-iter, is timed whole (mmseg's never reports it); the
    average and variance are the runs'."""
    result = benchmark(
        TINY_CONFIG, tiny_checkpoint, '--num-warmup', '1', '--log-interval',
        '3', '--repeat-times', '2', '--work-dir', str(tmp_path),
        '--cfg-options', f'test_dataloader.dataset.data_root={demo_root}')
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.count('Done image [3  / 4], fps: ') == 2
    runs = [float(v) for v in re.findall(r'Overall fps: ([0-9.]+) img / s',
                                         out)]
    assert len(runs) == 2 and all(v > 0 for v in runs)
    [path] = glob.glob(str(tmp_path / 'fps_*.json'))
    with open(path) as f:
        saved = json.load(f)
    assert [saved['overall_fps_1'], saved['overall_fps_2']] == runs
    # The saved runs are rounded to 0.01, the average and variance not.
    assert saved['average_fps'] == pytest.approx(np.mean(runs), abs=0.02)
    assert saved['fps_variance'] == pytest.approx(np.var(runs), rel=0.01,
                                                  abs=0.01)
    assert (saved['device'], saved['batch_size']) == ('cpu', 1)


def test_benchmark_times_max_iter_batches_after_the_warmup():
    """Which batches run and which are counted: ``--max-iter`` batches of
    a longer loader, the first ``--num-warmup`` not in the speed."""
    sys.path.insert(0, os.path.join(REPO, 'tools', 'analysis_tools'))
    try:
        from benchmark import images_per_second
    finally:
        sys.path.pop(0)

    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(1))
            self.calls = 0
            self.data_preprocessor = lambda data, training: data

        def forward(self, inputs, data_samples, mode):
            assert mode == 'predict' and not torch.is_grad_enabled()
            self.calls += 1

    model = Counting()
    loader = [dict(inputs=None, data_samples=[None] * 2)] * 10
    fps = images_per_second(model, loader, max_iter=4, num_warmup=1,
                            log_interval=100, precision='fp32')
    assert model.calls == 4 and fps > 0
    with pytest.raises(ValueError, match='gives 10 batches, none after the '
                       '10 of the warm-up'):
        images_per_second(model, loader, 20, 10, 100, 'fp32')


def test_benchmark_refuses_what_it_cannot_time(demo_root, tiny_checkpoint,
                                               tmp_path):
    data = f'test_dataloader.dataset.data_root={demo_root}'
    result = benchmark(TINY_CONFIG, tiny_checkpoint, '--cfg-options', data)
    assert result.returncode != 0
    assert 'the test set gives 4 batches, none after the 5 of the ' \
        'warm-up; lower --num-warmup' in result.stderr
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=dict(weight=torch.zeros(3))), other)
    result = benchmark(TINY_CONFIG, other, '--cfg-options', data)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(
        'benchmark.py: error: ')
    assert other in result.stderr
