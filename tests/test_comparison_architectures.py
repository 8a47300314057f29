"""The comparison architectures (Cross-Stitch, NDDR-CNN, MTAN, PAD-Net,
MTI-Net) and the shared-encoder baseline: parameter counts against the
published implementations, outputs, intermediate supervision, partial
labels, the shared-parameter declaration against autograd, gradient
surgery and the conflict hook under 2-process CPU DDP."""
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config

from conftest import REPO
from mmsquad.engine.hooks.grad_conflict_hook import default_groups
from mmsquad.models.utils import task_losses
from mmsquad.registry import MODELS
from test_grad_conflict_hook import pcgrad_ddp_run
from test_multitask_model import HEAD_OUT, LOSSES, TASKS, make_samples

#: Trainable parameters of the published implementations (the multi-task
#: benchmark of Vandenhende et al. with DeepLab-ASPP heads), and how far
#: mmsquad's may differ: MTI-Net's HRNet heads are mmseg's FCN head, whose
#: 1x1 conv before BN has no bias (270 parameters a head fewer).
PUBLISHED = {
    'shared_r18_pascal_ctx': 30_073_440,
    'cross_stitch_pascal_ctx': 63_618_336,
    'nddr_cnn_pascal_ctx': 69_247_264,
    'mtan_pascal_ctx': 31_627_296,
    'padnet_pascal_ctx': 19_515_166,
    'mtinet_pascal_ctx': 17_953_860,
    'shared_r18_pascal_ctx_edge': 34_795_873,
    'cross_stitch_pascal_ctx_edge': 79_525_921,
    'nddr_cnn_pascal_ctx_edge': 88_318_561,
    'mtan_pascal_ctx_edge': 36_613_425,
    'padnet_pascal_ctx_edge': 29_304_992,
    'mtinet_pascal_ctx_edge': 24_494_171,
    'shared_r50_nyud': 55_769_449,
    'cross_stitch_nyud': 79_292_841,
    'nddr_cnn_nyud': 101_591_721,
    'mtan_nyud': 72_052_713,
    'padnet_nyud': 12_161_332,
    'mtinet_nyud': 14_838_121,
}

#: A dilated ResNet-18 an eighth as wide, and a small HRNet (that of
#: tests/configs/tiny_padnet.py): seconds-long.
TINY_RESNET = dict(type='mmseg.ResNet', depth=18, base_channels=8,
                   strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
TINY_HRNET = Config.fromfile(osp.join(
    REPO, 'tests', 'configs', 'tiny_padnet.py')).model.backbone.to_dict()
FCN_HEAD = dict(type='DecodeHeadAdapter', head=dict(
    _scope_='mmseg', type='FCNHead', in_index=(0, 1, 2, 3),
    input_transform='resize_concat', channels=32, kernel_size=1,
    num_convs=1, concat_input=False, dropout_ratio=-1,
    norm_cfg=dict(type='BN')))
ARCHS = {
    'shared': dict(backbone=TINY_RESNET),
    'cross_stitch': dict(backbone=dict(type='CrossStitchEncoder',
                                       backbone=TINY_RESNET)),
    'nddr_cnn': dict(backbone=dict(type='NDDREncoder',
                                   backbone=TINY_RESNET)),
    'mtan': dict(backbone=dict(type='MTANEncoder', backbone=TINY_RESNET)),
    'padnet': dict(backbone=TINY_HRNET,
                   neck=dict(type='PADNetNeck', channels=32),
                   head=dict(type='ResidualTaskHead')),
    'mtinet': dict(backbone=TINY_HRNET, neck=dict(type='MTINetNeck'),
                   head=FCN_HEAD),
}
#: The intermediate levels each architecture supervises.
LEVELS = {'padnet': ['initial'],
          'mtinet': ['scale_0', 'scale_1', 'scale_2', 'scale_3']}


def tiny(arch, tasks=tuple(HEAD_OUT), auxiliary=()):
    parts = dict(ARCHS[arch])
    head = parts.pop('head', dict(type='ASPPTaskHead', channels=16,
                                  dilations=(1, 2)))
    return MODELS.build(dict(
        type='MultiTaskModel',
        tasks={t: TASKS[t] for t in tasks},
        auxiliary_tasks={t: TASKS[t] for t in auxiliary},
        heads={t: dict(head, loss=LOSSES[t]) for t in tasks}, **parts))


def trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_parameter_counts_match_the_published_implementations(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'baselines',
                                   name + '.py'))
    model = MODELS.build(cfg.model)
    assert trainable(model) == pytest.approx(PUBLISHED[name], rel=1e-3)
    if not name.startswith('mtinet'):  # all others to the parameter
        assert trainable(model) == PUBLISHED[name]


def test_hrnet18s_is_mmsegs_fcn_hr18s_backbone():
    ours = Config.fromfile(osp.join(
        REPO, 'configs', '_base_', 'models', 'mtl_hrnet18s.py')).hrnet18s
    theirs = get_config(
        'mmseg::hrnet/fcn_hr18s_4xb4-40k_pascal-context-480x480.py'
    ).model.backbone
    assert ours.extra.to_dict() == theirs.extra.to_dict()
    assert trainable(MODELS.build(ours)) == 3_860_720


@pytest.mark.parametrize('arch', sorted(ARCHS))
def test_outputs_and_losses_of_every_task_and_level(arch):
    torch.manual_seed(0)
    model = tiny(arch)
    x = torch.randn(2, 3, 45, 61)  # odd sizes
    logits = model(x, mode='tensor')
    assert list(logits) == list(HEAD_OUT)
    for task, out in logits.items():
        assert out.shape[:2] == (2, HEAD_OUT[task])
    samples = make_samples(size=45)
    for s in samples:
        s.set_metainfo(dict(img_shape=(45, 61), ori_shape=(45, 61)))
    losses = model(torch.randn(2, 3, 45, 45), samples, mode='loss')
    names = {t: next(iter(model.heads[t].losses)).loss_name
             for t in HEAD_OUT}
    expected = {f'{t}.{n}' for t, n in names.items()}
    expected |= {f'{t}.{n}_{level}' for t, n in names.items()
                 for level in LEVELS.get(arch, [])}
    assert set(losses) == expected
    assert all(torch.isfinite(v) for v in losses.values())
    predicted = model.predict(torch.randn(2, 3, 45, 45), samples)
    assert predicted[0].get(model.tasks['semseg'].prediction_key
                            ).shape[-2:] == (45, 61)


@pytest.mark.parametrize('arch', sorted(LEVELS))
def test_interaction_necks_advertise_the_strides_they_give(arch):
    """The strides the heads are told are those of the features they get,
    measured on an input."""
    model = tiny(arch)
    feats = model.extract_feats(torch.randn(1, 3, 64, 64))
    for task, levels in feats.items():
        measured = tuple(64 // level.shape[-1] for level in levels)
        assert model.neck.out_strides == measured
        assert tuple(model.heads[task].feature_strides) == measured


@pytest.mark.parametrize('arch', sorted(ARCHS))
def test_loss_decreases_over_20_steps_on_a_fixed_batch(arch):
    torch.manual_seed(0)
    model = tiny(arch).train()
    x = torch.randn(2, 3, 32, 32)
    samples = make_samples()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(20):
        total = sum(model(x, samples, mode='loss').values())
        optim.zero_grad()
        total.backward()
        optim.step()
        history.append(total.item())
    assert history[-1] < 0.7 * history[0], history


@pytest.mark.parametrize('arch', ['padnet', 'mtinet'])
def test_auxiliary_tasks_feed_only_the_intermediate_losses(arch):
    model = tiny(arch, tasks=('semseg', 'sal'),
                 auxiliary=('human_parts', 'normals'))
    losses = model(torch.randn(2, 3, 32, 32), make_samples(), mode='loss')
    for task in ('human_parts', 'normals'):
        keys = {k for k in losses if k.startswith(task + '.')}
        assert keys and all(any(k.endswith('_' + level)
                                    for level in LEVELS[arch])
                                for k in keys), keys
    assert set(model.eval().predict(torch.randn(1, 3, 32, 32))[0].keys()) == {
        'pred_semseg', 'pred_sal'}


@pytest.mark.parametrize('arch', sorted(ARCHS))
def test_a_missing_label_gives_its_task_no_loss_and_no_gradient(arch):
    """sal is unlabelled in the whole batch: its losses are zeros that
    still reach its head (DDP sees every parameter used) with a zero
    gradient, and the other tasks' losses are unchanged."""
    torch.manual_seed(0)
    auxiliary = ('normals', ) if arch in LEVELS else ()
    tasks = tuple(t for t in HEAD_OUT if t not in auxiliary)
    model = tiny(arch, tasks, auxiliary).eval()
    x = torch.randn(2, 3, 32, 32)
    full = model(x, make_samples(), mode='loss')
    partial = model(x, make_samples(tasks=[t for t in HEAD_OUT if t != 'sal']),
                    mode='loss')
    for key, value in partial.items():
        if key.startswith('sal.'):
            assert value.item() == 0
        else:
            assert value.item() == pytest.approx(full[key].item(), rel=1e-5)
    model.zero_grad()
    sum(partial.values()).backward()
    for name, p in model.heads['sal'].named_parameters():
        assert p.grad is not None, name
        assert torch.count_nonzero(p.grad) == 0, name


@pytest.mark.parametrize('arch', sorted(ARCHS))
def test_declared_shared_parameters_are_those_several_tasks_reach(arch):
    """The model's declaration against autograd: a parameter is shared
    when more than one task's loss reaches it (has it in its graph)."""
    torch.manual_seed(0)
    auxiliary = ('normals', ) if arch in LEVELS else ()
    tasks = tuple(t for t in HEAD_OUT if t not in auxiliary)
    model = tiny(arch, tasks, auxiliary).train()
    losses = task_losses(model(torch.randn(2, 3, 32, 32), make_samples(),
                               mode='loss'))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    reached = {n: 0 for n, _ in named}
    for loss in losses.values():
        grads = torch.autograd.grad(loss, [p for _, p in named],
                                    retain_graph=True, allow_unused=True)
        for (n, _), g in zip(named, grads):
            reached[n] += int(g is not None)
    measured = {n for n, count in reached.items() if count > 1}
    assert set(model.shared_parameter_names()) == measured


def test_grad_conflict_hook_measures_the_declared_shared_parameters():
    model = tiny('mtan')
    groups = default_groups(model)
    assert set(groups['shared']) == set(model.shared_parameter_names())
    assert not [n for n in groups['shared'] if '.attention.' in n]


@pytest.mark.parametrize('encoder,unit', [('CrossStitchEncoder', 'stitch'),
                                          ('NDDREncoder', 'nddr')])
def test_mixing_units_start_at_the_published_values(encoder, unit):
    model = MODELS.build(dict(
        type='MultiTaskModel', backbone=dict(
            type=encoder, backbone=TINY_RESNET, alpha=0.7, beta=0.2),
        heads={t: dict(type='ASPPTaskHead', channels=8) for t in
               ('semseg', 'sal', 'normals')},
        init_cfg=dict(type='Constant', layer='Conv2d', val=3.0)))
    model.init_weights()
    for stage, mixer in getattr(model.backbone, unit).items():
        if unit == 'stitch':
            c = mixer.weight.shape[-1]
            expected = torch.full((3, 3, c), 0.2)
            expected[range(3), range(3)] = 0.7
            assert torch.equal(mixer.weight.data, expected), stage
        else:
            for i, layer in enumerate(mixer.layers):
                w = layer[0].weight[..., 0, 0]
                c = w.shape[0]
                for j in range(3):
                    block = w[:, j * c:(j + 1) * c]
                    value = 0.7 if i == j else 0.2
                    assert torch.equal(block, value * torch.eye(c)), stage


def test_identity_stitching_runs_every_branch_as_its_own_backbone():
    """With alpha 1 and beta 0 the stage-by-stage run must equal each
    branch backbone's own forward (mmseg's ResNet, all four layers)."""
    torch.manual_seed(0)
    encoder = MODELS.build(dict(
        type='CrossStitchEncoder', tasks=['a', 'b'], alpha=1.0, beta=0.0,
        backbone=dict(TINY_RESNET, out_indices=(0, 1, 2, 3))))
    x = torch.randn(2, 3, 37, 53)
    outs = encoder(x)
    for task in ('a', 'b'):
        expected = encoder.branches[task](x)
        for got, want in zip(outs[task], expected):
            assert torch.equal(got, want)
    assert encoder.out_strides == (4, 8, 8, 8)
    assert encoder.out_channels['a'] == (8, 16, 32, 64)


def test_branches_start_from_their_own_checkpoints(tmp_path):
    """branch_init_cfgs: one branch from a single-task model's backbone,
    the others from the backbone's own init (mmseg's Kaiming)."""
    single = MODELS.build(dict(
        type='MultiTaskModel', backbone=TINY_RESNET,
        heads=dict(sal=dict(type='ASPPTaskHead', channels=8))))
    torch.save(dict(state_dict=single.state_dict()), tmp_path / 'sal.pth')
    model = MODELS.build(dict(
        type='MultiTaskModel', backbone=dict(
            type='CrossStitchEncoder', backbone=TINY_RESNET,
            branch_init_cfgs=dict(sal=dict(
                type='Pretrained', checkpoint=str(tmp_path / 'sal.pth'),
                prefix='backbone.'))),
        heads={t: dict(type='ASPPTaskHead', channels=8)
               for t in ('semseg', 'sal')}))
    model.init_weights()
    loaded = model.backbone.branches['sal'].state_dict()
    for key, value in single.backbone.state_dict().items():
        assert torch.equal(loaded[key], value), key
    other = model.backbone.branches['semseg'].conv1.weight
    assert not torch.equal(other, single.backbone.conv1.weight)
    fan_out = other.shape[0] * other[0, 0].numel()
    assert other.std().item() == pytest.approx((2 / fan_out) ** 0.5,
                                               rel=0.2)


def test_encoders_refuse_a_backbone_without_named_stages():
    with pytest.raises(TypeError, match='res_layers'):
        MODELS.build(dict(type='MTANEncoder', tasks=['a', 'b'],
                          backbone=TINY_HRNET))


def test_an_auxiliary_task_needs_a_neck_that_predicts_it():
    with pytest.raises(ValueError, match=r"auxiliary tasks \['normals'\]"):
        tiny('mtan', tasks=('semseg', 'sal'), auxiliary=('normals', ))


@pytest.mark.parametrize('name', [n for n in sorted(PUBLISHED)
                                  if n.endswith('pascal_ctx')])
def test_get_flops_counts_every_architecture(name, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [
        'get_flops.py', osp.join(REPO, 'configs', 'baselines', name + '.py'),
        '--shape', '64', '64'])
    runpy.run_path(osp.join(REPO, 'tools', 'analysis_tools', 'get_flops.py'),
                   run_name='__main__')
    model = [line.split() for line in capsys.readouterr().out.splitlines()
             if line.startswith('model')][0]
    params = float(model[2].rstrip('M')) * 1e6
    assert params == pytest.approx(PUBLISHED[name], rel=1e-3)
    assert float(model[4].rstrip('GM')) > 0


@pytest.mark.parametrize('arch', ['tiny_cross_stitch', 'tiny_padnet'])
def test_pcgrad_and_hook_under_two_process_cpu_ddp(arch, demo_root,
                                                   tmp_path):
    result, work_dir = pcgrad_ddp_run(
        osp.join(REPO, 'tests', 'configs', arch + '.py'), demo_root,
        tmp_path, 29633 + len(arch) % 7)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Epoch(train) [1][2/2]' in log
    assert 'grad_conflict/shared/cos_mean' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
