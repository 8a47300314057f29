"""SquadNet: parameter counts, advertised contracts, and equivalence of the
fused implementation with the plain per-expert oracle."""
import copy

import pytest
import torch

from conftest import OpRecorder
from mmsquad.models import MultiTaskModel, SquadNet
from mmsquad.models.deploy import fold_batchnorm
from mmsquad.models.layers import ConvNormAct
from mmsquad.models.layers.conv_norm_act import ELEMENTWISE_ACTIVATIONS
from mmsquad.registry import MODELS
from toolkit.squad_reference import ReferenceSquadNet

# Published backbone / full-model (four ASPP heads) parameter counts (M).
REFERENCE_PARAMS = {'tiny': (4.02, 15.32), 'small': (9.12, 24.22),
                    'base': (16.14, 31.23)}
HEAD_OUT = dict(semseg=21, human_parts=7, sal=1, normals=3)


def num_params(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def four_task_model(arch: str) -> torch.nn.Module:
    shared = SquadNet.arch_settings[arch]['num_shared']
    return MODELS.build(dict(
        type='MultiTaskModel',
        backbone=dict(type='SquadNet', arch=arch, num_tasks=4),
        neck=dict(type='ExpertSquadNeck', levels=[2]),
        heads={t: dict(type='ASPPTaskHead', in_channels=128 * (1 + shared),
                       out_channels=c, loss=dict(type='MaskedL1Loss'))
               for t, c in HEAD_OUT.items()}))


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_parameter_counts_match_the_paper(arch):
    backbone, full = REFERENCE_PARAMS[arch]
    assert num_params(MODELS.build(dict(type='SquadNet', arch=arch))) == \
        pytest.approx(backbone, rel=0.005)
    assert num_params(four_task_model(arch)) == pytest.approx(full,
                                                             rel=0.005)


@pytest.mark.parametrize('out_indices', [(0, 1, 2), (2, ), (0, 2), (1, )])
@pytest.mark.parametrize('arch', ['tiny', 'small'])
def test_outputs_match_advertised_contract(arch, out_indices):
    model = MODELS.build(dict(type='SquadNet', arch=arch, num_tasks=3,
                              out_indices=out_indices)).eval()
    outs = model(torch.randn(1, 3, 40, 56))
    assert len(outs) == len(model.feature_specs) == len(out_indices)
    for out, spec in zip(outs, model.feature_specs):
        assert out.shape[1] == spec.channels
        assert out.shape[2] == 40 // spec.stride
        assert out.shape[3] == 56 // spec.stride
        ranges = spec.task_ranges + (spec.shared_range, )
        assert ranges[0][0] == 0 and ranges[-1][1] == spec.channels
        for (_, stop), (start, _) in zip(ranges, ranges[1:]):
            assert stop == start  # contiguous, no overlap
        assert spec.task_feature_channels == (
            spec.group_channels * (1 + spec.num_shared))


def _oracle_pair(arch, num_tasks=4):
    torch.manual_seed(0)
    fused = SquadNet(arch, num_tasks=num_tasks)
    oracle = ReferenceSquadNet(arch, num_tasks=num_tasks)
    # Randomise BN statistics and affine parameters so they matter.
    for m in fused.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    oracle.load_state_dict(fused.state_dict())
    return fused, oracle


def _rel_err(a: torch.Tensor, b: torch.Tensor, floor: float = 0.0) -> float:
    """Norm-wise relative error ||a - b|| / max(||b||, floor)."""
    return ((a - b).norm() / max(b.norm().item(), floor, 1e-30)).item()


ARCHS = ['tiny', 'small', 'base',
         dict(channels=[16, 32, 64], depths=[1, 1, 1], num_shared=2,
              channel_shuffle=[False, False, False], mlp_ratios=[1, 2, 1]),
         dict(channels=[16, 32, 64], depths=[1, 2, 1], num_shared=1,
              channel_shuffle=[True, True, True], mlp_ratios=[2, 1, 1])]


# Frozen-statistics BN in float32 at the tolerance; batch-statistics
# BN in float64, where a deep train-mode network no longer amplifies float32
# round-off and any real difference would still show.
MODES = [('eval', torch.float32, 1e-5), ('train', torch.float64, 1e-10)]


@pytest.mark.parametrize('mode, dtype, tol', MODES, ids=['eval-fp32',
                                                         'train-fp64'])
@pytest.mark.parametrize('arch', ARCHS, ids=lambda a: str(a)[:20])
@pytest.mark.parametrize('layout', [torch.contiguous_format,
                                    torch.channels_last],
                         ids=['nchw', 'channels_last'])
def test_fused_matches_oracle_outputs_and_gradients(arch, mode, dtype, tol,
                                                     layout):
    fused, oracle = _oracle_pair(arch)
    fused = fused.to(dtype).to(memory_format=layout)
    oracle = oracle.to(dtype)
    fused.train(mode == 'train')
    oracle.train(mode == 'train')
    x = torch.randn(2, 3, 16, 16, dtype=dtype)
    out_f, out_o = fused(x.contiguous(memory_format=layout)), oracle(x)
    for a, b in zip(out_f, out_o):
        assert _rel_err(a, b) <= tol
    weights = [torch.randn_like(o) for o in out_o]
    sum((o * w).sum() for o, w in zip(out_f, weights)).backward()
    sum((o * w).sum() for o, w in zip(out_o, weights)).backward()
    # Express the fused gradients in the oracle's (per-expert) layout.
    probe = copy.deepcopy(fused)
    for (name, p), (_, q) in zip(probe.named_parameters(),
                                 fused.named_parameters()):
        p.data.copy_(q.grad)
    grads_f = probe.state_dict()
    # Some gradients are zero in exact arithmetic (a bias right before a
    # train-mode BN); those are measured against the model's gradient scale.
    scale = max(p.grad.norm().item() for p in oracle.parameters())
    for name, p in oracle.named_parameters():
        assert _rel_err(grads_f[name], p.grad, 1e-6 * scale) <= tol, name


def test_checkpoint_layout_is_the_per_expert_one():
    fused, oracle = _oracle_pair('tiny')
    assert set(fused.state_dict()) == set(oracle.state_dict())
    assert 'stages.0.0.experts.3.pw1.conv.weight' in fused.state_dict()
    fresh = SquadNet('tiny')
    fresh.load_state_dict(oracle.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(fresh.eval()(x), oracle.eval()(x)):
            assert _rel_err(a, b) <= 1e-5


def test_channels_last_and_folding_keep_outputs():
    fused, oracle = _oracle_pair('tiny')
    fused.eval()
    oracle.eval()
    x = torch.randn(2, 3, 32, 32)
    folded = fold_batchnorm(copy.deepcopy(fused))
    assert not any(isinstance(m, ConvNormAct) for m in folded.modules())
    folded = folded.to(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = oracle(x)
        for a, b in zip(folded(x.to(memory_format=torch.channels_last)),
                        ref):
            assert _rel_err(a, b) <= 1e-5


def test_channels_last_backward_keeps_one_layout():
    """Element-wise backward kernels never mix layouts (their slow path),
    even when the gradient arrives in NCHW from a slice and a reduction."""
    two_channels = dict(type='UnitVectorTask', channels=2)
    model = MultiTaskModel(
        tasks=dict(a=two_channels, b=two_channels),
        backbone=dict(type='SquadNet', arch='tiny'),
        neck=dict(type='ExpertSquadNeck', levels=[1, 2]),
        heads={t: dict(type='ASPPTaskHead', channels=16,
                       loss=dict(type='MaskedL1Loss'))
               for t in ('a', 'b')}).train()
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 32, 32).contiguous(
        memory_format=torch.channels_last)
    outputs = model(x, mode='tensor')
    loss = sum(o[:, :1].mean() for o in outputs.values())
    with OpRecorder() as recorder:
        loss.backward()
    elementwise = [c for c in recorder.calls if c[0] in {
        'gelu_backward', 'native_batch_norm_backward', 'threshold_backward'}]
    assert len(elementwise) > 50
    mixed = [c for c in elementwise if len(set(c[1])) != 1
             or 'strided' in c[1]]
    assert not mixed, mixed[:3]
    norms = {layout for name, layouts in elementwise
             if name == 'native_batch_norm_backward' for layout in layouts}
    assert norms == {'channels_last'}
    # GELU runs on the NHWC view of its channels-last operands, contiguous
    # in the default order: the operands torch hands to oneDNN.
    gelus = [layouts for name, layouts in elementwise
             if name == 'gelu_backward']
    assert len(gelus) > 20
    assert {layout for layouts in gelus for layout in layouts} == {'nchw'}


@pytest.mark.parametrize('make_act', [
    *ELEMENTWISE_ACTIVATIONS, lambda: torch.nn.ReLU(inplace=True),
    lambda: torch.nn.PReLU(8)],
    ids=[*(a.__name__ for a in ELEMENTWISE_ACTIVATIONS), 'ReLU-inplace',
         'PReLU-per-channel'])
@pytest.mark.parametrize('folded', [False, True], ids=['train', 'folded'])
def test_conv_norm_act_is_layout_independent(make_act, folded):
    """Outputs and gradients in channels-last equal those in NCHW for every
    activation run on the NHWC view (in place too) and for per-channel
    ones, and come back channels-last; so in the folded form where
    gradients are recorded (its standard-operator path)."""
    torch.manual_seed(0)
    layer = ConvNormAct(4, 8, 3).double().train()
    layer.act = make_act().double()
    if folded:
        layer(torch.randn(4, 4, 7, 9, dtype=torch.float64))  # BN statistics
        layer = layer.eval().folded()
    layer_cl = copy.deepcopy(layer).to(memory_format=torch.channels_last)
    x = torch.randn(2, 4, 7, 9, dtype=torch.float64)
    x_cl = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    x = x.requires_grad_()
    y, y_cl = layer(x), layer_cl(x_cl)
    assert y_cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y_cl, y, rtol=1e-12, atol=1e-12)
    weight = torch.randn_like(y)
    (y * weight).sum().backward()
    (y_cl * weight).sum().backward()
    torch.testing.assert_close(x_cl.grad, x.grad, rtol=1e-12, atol=1e-12)
    for p, q in zip(layer.parameters(), layer_cl.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-10, atol=1e-12)


def test_traced_layers_record_no_layout_views():
    """The permutation that selects oneDNN's GELU is an eager kernel choice:
    a traced graph records the activation alone."""
    layer = ConvNormAct(4, 8, 1).eval().to(memory_format=torch.channels_last)
    x = torch.randn(1, 4, 5, 5).contiguous(memory_format=torch.channels_last)
    with OpRecorder() as eager:
        layer(x)
    assert 'permute' in eager.names
    traced = torch.jit.trace(layer, x)
    assert 'permute' not in str(traced.graph)
    torch.testing.assert_close(traced(x), layer(x))


def test_frozen_stages_stop_gradients_and_norm_updates():
    model = SquadNet('tiny', frozen_stages=1).train()
    frozen = list(model.stem.parameters()) + list(
        model.stages[0].parameters())
    assert all(not p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in model.stages[1].parameters())
    assert not model.stages[0].training and model.stages[1].training


@pytest.mark.parametrize('block_type', ['squad', 'plain'])
def test_blocks_are_residual(block_type):
    """With the aggregation's last norm silenced, every block (squads or
    the no-squad ablation alike) passes its input through unchanged: the
    ablation removes the squads, not the residual."""
    block = SquadNet('tiny', num_tasks=2,
                     block_type=block_type).stages[0][0].eval()
    torch.nn.init.zeros_(block.aggregation.pw2.norm.weight)
    torch.nn.init.zeros_(block.aggregation.pw2.norm.bias)
    x = torch.randn(2, block.aggregation.pw1.conv.in_channels, 9, 11)
    torch.testing.assert_close(block(x), x)


def _grads_of(module, x, with_cp):
    """Outputs and parameter gradients of a train-mode copy of ``module``
    with ``with_cp`` set, and the ops saved for the backward."""
    module = copy.deepcopy(module).train()
    module.with_cp = with_cp
    saved = []

    def pack(tensor):
        saved.append(tensor.numel())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        outs = module(x)
    outs = outs if isinstance(outs, tuple) else tuple(
        v for level in outs.values() for v in level)
    sum(o.square().mean() for o in outs).backward()
    return ([o.detach() for o in outs],
            [p.grad.clone() for p in module.parameters()], sum(saved))


@pytest.mark.parametrize('build', [
    lambda: SquadNet('tiny'),
    lambda: MODELS.build(dict(type='ExpertSquadNeck', tasks=['a', 'b'],
                              in_channels=[16], num_blocks=2,
                              channels_per_group=8)),
    # The oracle the benchmark times against SquadNet with checkpointing.
    lambda: ReferenceSquadNet('tiny'),
], ids=['squadnet', 'neck_on_other_backbone', 'reference'])
def test_gradient_checkpointing_keeps_outputs_and_gradients(build):
    torch.manual_seed(0)
    module = build()
    backbone = isinstance(module, (SquadNet, ReferenceSquadNet))
    x = torch.randn(2, 3 if backbone else 16, 32, 32)
    if not backbone:
        x = [x]
    plain = _grads_of(module, x, with_cp=False)
    checkpointed = _grads_of(module, x, with_cp=True)
    for a, b in zip(plain[0] + plain[1], checkpointed[0] + checkpointed[1]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # Checkpointing keeps far fewer activations for the backward.
    assert checkpointed[2] < 0.5 * plain[2]


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(arch='huge'), KeyError, 'huge'),
    (dict(arch=dict(channels=[32, 64, 128])), KeyError, 'depths'),
    (dict(out_indices=(3, )), IndexError, 'out index 3'),
])
def test_bad_arguments_fail_clearly(kwargs, error, match):
    with pytest.raises(error, match=match):
        SquadNet(**kwargs)


@pytest.mark.parametrize('shape', [(1, 3, 4, 64), (1, 1, 32, 32),
                                   (3, 32, 32)])
def test_unusable_input_fails_clearly(shape):
    with pytest.raises(ValueError, match='SquadNet'):
        SquadNet('tiny')(torch.randn(*shape))


def test_docstring_example_runs():
    import doctest

    import mmsquad.models.backbones.squadnet as module
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
