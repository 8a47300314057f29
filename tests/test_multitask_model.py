"""The multi-task model: losses, partial labels, prediction, foreign heads
and necks on foreign backbones."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData

from conftest import REPO
from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample

HEAD_OUT = dict(semseg=5, human_parts=3, sal=1, normals=3)
TASKS = dict(semseg=dict(type='LabelMapTask', num_classes=5),
             human_parts=dict(type='LabelMapTask', num_classes=3),
             sal=dict(type='BinaryMapTask'),
             normals=dict(type='UnitVectorTask'))
LOSSES = dict(semseg=dict(type='PixelCrossEntropyLoss'),
              human_parts=dict(type='PixelCrossEntropyLoss'),
              sal=dict(type='BalancedBCELoss'),
              normals=dict(type='NormalsL1Loss'))


def tiny_model(tasks=tuple(HEAD_OUT), **overrides) -> torch.nn.Module:
    cfg = dict(
        type='MultiTaskModel',
        tasks={t: TASKS[t] for t in tasks},
        backbone=dict(type='SquadNet', arch='tiny'),
        neck=dict(type='ExpertSquadNeck', levels=[2]),
        heads={t: dict(type='ASPPTaskHead', channels=16, dilations=(1, 2),
                       loss=LOSSES[t]) for t in tasks})
    cfg.update(overrides)
    return MODELS.build(cfg)


def make_samples(n=2, size=32, tasks=tuple(HEAD_OUT)):
    """Learnable targets: vertical bands of classes, a saliency half, two
    normal directions."""
    cols = torch.arange(size).expand(size, size)
    samples = []
    for i in range(n):
        s = MultiTaskDataSample(metainfo=dict(img_shape=(size, size),
                                              ori_shape=(size, size)))
        for t in tasks:
            if t in ('semseg', 'human_parts'):
                data = ((cols + 8 * i) * HEAD_OUT[t] // (size + 8))[None]
            elif t == 'sal':
                data = (cols < size // 2).long()[None]
            else:
                left = torch.tensor([0.6, 0.0, -0.8])[:, None, None]
                right = torch.tensor([-0.6, 0.0, -0.8])[:, None, None]
                data = torch.where(cols < size // 2, left, right)
            s.set_target(t, PixelData(data=data))
        samples.append(s)
    return samples


def test_loss_keys_and_weights():
    model = tiny_model(task_weights=dict(sal=5.0)).eval()
    x = torch.randn(2, 3, 32, 32)
    samples = make_samples()
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'semseg.loss_ce', 'human_parts.loss_ce',
                           'sal.loss_bce', 'normals.loss_l1'}
    model.task_weights['sal'] = 1.0
    unweighted = model(x, samples, mode='loss')
    assert losses['sal.loss_bce'].item() == pytest.approx(
        5 * unweighted['sal.loss_bce'].item(), rel=1e-5)


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = tiny_model().train()
    x = torch.randn(2, 3, 32, 32)
    samples = make_samples()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(30):
        losses = model(x, samples, mode='loss')
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()
        history.append({k: v.item() for k, v in losses.items()})
    for key in history[0]:
        assert history[-1][key] < 0.8 * history[0][key], key


def test_missing_labels_give_no_loss_and_no_gradient():
    torch.manual_seed(0)
    model = tiny_model().train()
    x = torch.randn(2, 3, 32, 32)
    samples = make_samples(tasks=('semseg', 'normals'))
    losses = model(x, samples, mode='loss')
    assert losses['sal.loss_bce'].item() == 0
    sum(losses.values()).backward()
    sal_grads = [p.grad for p in model.heads['sal'].parameters()]
    assert all(g is not None and not g.any() for g in sal_grads)
    assert any(p.grad.any() for p in model.heads['semseg'].parameters())


def test_unlabelled_sample_does_not_change_a_task_loss():
    model = tiny_model().eval()  # no dropout, fixed BN: per-sample results
    x = torch.randn(2, 3, 32, 32)
    full = make_samples(tasks=('semseg', ))
    partial = make_samples(tasks=('semseg', ))
    partial[1] = make_samples(n=1, tasks=('normals', ))[0]
    with torch.no_grad():
        only_first = model.heads['semseg'].loss(
            {k: tuple(f[:1] for f in v)
             for k, v in model.extract_feats(x).items()}['semseg'], full[:1])
        mixed = model(x, partial, mode='loss')
    assert mixed['semseg.loss_ce'].item() == pytest.approx(
        only_first['loss_ce'].item(), rel=1e-5)


def test_predict_returns_every_task_at_original_size():
    model = tiny_model().eval()
    samples = make_samples(size=32)
    for s in samples:
        s.set_metainfo(dict(img_shape=(30, 28), ori_shape=(60, 56)))
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32), samples, mode='predict')
    sample = out[0]
    assert sample.pred_semseg.data.shape == (1, 60, 56)
    assert sample.pred_semseg.data.max() < HEAD_OUT['semseg']
    assert sample.pred_sal.data.min() >= 0 and sample.pred_sal.data.max() <= 1
    norms = sample.pred_normals.data.norm(dim=0)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


def test_overflowed_weights_stop_prediction_with_the_reason():
    """A diverged run's weights overflow the features to NaN; prediction
    refuses them, naming the task, the images and the largest weight,
    instead of taking class indices from NaN logits."""
    model = tiny_model().eval()
    name, weight = next(iter(model.backbone.named_parameters()))
    with torch.no_grad():
        weight.fill_(3e38)
    samples = make_samples()
    for i, s in enumerate(samples):
        s.set_metainfo(dict(img_path=f'images/{i}.jpg'))
    with pytest.raises(FloatingPointError) as error, torch.no_grad():
        model(torch.randn(2, 3, 32, 32), samples, mode='predict')
    message = str(error.value)
    assert "task 'semseg'" in message
    assert 'images/0.jpg' in message and 'images/1.jpg' in message
    assert f'3e+38 (backbone.{name})' in message


@pytest.mark.parametrize('config', ['tiny_demo', 'tiny_cross_stitch',
                                    'tiny_padnet'])
@pytest.mark.parametrize('channels_last', [True, False])
def test_gradients_land_in_their_parameters_strides(config, channels_last):
    """DistributedDataParallel lays its gradient buckets out as the
    parameters and warns at every run where a gradient's strides differ
    (even on size-1 dimensions, as a 1x1 weight's may)."""
    cfg = Config.fromfile(osp.join(REPO, 'tests', 'configs', f'{config}.py'))
    model = MODELS.build(dict(cfg.model, channels_last=channels_last))
    outputs = model(torch.randn(2, 3, 32, 32), mode='tensor')
    sum(o.mean() for o in outputs.values()).backward()
    strided = {name: (p.stride(), p.grad.stride())
               for name, p in model.named_parameters()
               if p.grad is not None and p.grad.stride() != p.stride()}
    assert not strided, strided


def test_tensor_mode_returns_logits_per_task():
    model = tiny_model().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32), mode='tensor')
    assert {t: v.shape[1] for t, v in out.items()} == HEAD_OUT


def test_channels_last_training_matches_contiguous_training():
    """``channels_last=True`` changes the memory layout only: one train
    step through mmengine's path updates the weights as the contiguous model
    does (to float32 rounding), and the weights stay channels-last."""
    torch.manual_seed(0)
    # Channel dropout draws the same masks in both layouts; element-wise
    # dropout draws them in memory order, so they would differ.
    heads = {t: dict(type='ASPPTaskHead', channels=16, dilations=(1, 2),
                     loss=LOSSES[t], dropout_type='Dropout2d')
             for t in HEAD_OUT}
    contiguous = tiny_model(heads=heads)
    channels_last = tiny_model(channels_last=True, heads=heads)
    channels_last.load_state_dict(contiguous.state_dict())
    kernels = [p for p in channels_last.parameters()
               if p.dim() == 4 and p.shape[1] > 1 and p.shape[-1] > 1]
    assert kernels and all(
        p.is_contiguous(memory_format=torch.channels_last)
        and not p.is_contiguous() for p in kernels)
    start = [p.detach().clone() for p in contiguous.parameters()]
    data = dict(inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                        for _ in range(2)], data_samples=make_samples())
    updates = []
    for model in (contiguous, channels_last):
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        torch.manual_seed(1)  # the same dropout masks
        model.train_step(copy.deepcopy(data), wrapper)
        updates.append(torch.cat([(p.detach() - p0).flatten() for p, p0 in
                                  zip(model.parameters(), start)]))
    expected, actual = updates
    assert (actual - expected).norm() <= 1e-3 * expected.norm()
    assert all(p.is_contiguous(memory_format=torch.channels_last)
               for p in kernels)


def test_mmseg_decode_head_works_as_a_task_head():
    torch.manual_seed(0)
    model = tiny_model(tasks=('semseg', 'sal'), heads=dict(
        semseg=dict(type='DecodeHeadAdapter',
                    head=dict(_scope_='mmseg', type='ASPPHead', channels=16,
                              dilations=(1, 2), num_classes=5),
                    loss=dict(type='PixelCrossEntropyLoss')),
        sal=dict(type='ASPPTaskHead', channels=16)))
    assert type(model.heads['semseg'].head).__module__.startswith('mmseg.')
    x = torch.randn(2, 3, 32, 32)
    samples = make_samples(tasks=('semseg', 'sal'))
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = None
    for _ in range(10):
        loss = model(x, samples, mode='loss')['semseg.loss_ce']
        optim.zero_grad()
        loss.backward()
        optim.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first


def test_neck_gives_a_resnet_task_experts():
    model = MODELS.build(dict(
        type='MultiTaskModel',
        backbone=dict(_scope_='mmdet', type='ResNet', depth=18,
                      out_indices=(2, 3)),
        neck=dict(type='ExpertSquadNeck', in_channels=[256, 512],
                  channels_per_group=[16, 32], num_shared=1, num_blocks=2),
        tasks=dict(semseg=TASKS['semseg'], sal=TASKS['sal']),
        heads=dict(semseg=dict(type='ASPPTaskHead', channels=16),
                   sal=dict(type='ASPPTaskHead', channels=16))))
    assert model.heads['semseg'].in_channels == 64
    assert model.heads['semseg'].out_channels == 5
    feats = model.extract_feats(torch.randn(2, 3, 64, 64))
    assert set(feats) == {'semseg', 'sal'}
    assert [f.shape[1] for f in feats['sal']] == [32, 64]
    assert model.neck.out_channels == {'semseg': (32, 64), 'sal': (32, 64)}
    # The strides the ResNet levels have, advertised through the neck (None
    # before: strides_from_features was refused behind it).
    assert model.neck.out_strides == (16, 32)
    assert model.heads['sal'].feature_strides == (16, 32)


class _StageWidthAttribute(torch.nn.Module):
    """A backbone whose ``in_channels`` attribute is its last stage's
    width, as mmpretrain's EfficientNet sets it."""

    in_channels = 320

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.stage = torch.nn.Conv2d(8, 320, 3, stride=2, padding=1)

    def forward(self, x):
        return (self.stage(self.stem(x)), )


def test_a_backbone_is_probed_with_the_channels_of_its_first_convolution():
    """The probe fed a backbone its ``in_channels`` attribute (an
    EfficientNet's 320) as image channels; the first convolution's are
    the images'."""
    model = MODELS.build(dict(
        type='MultiTaskModel', backbone=dict(type=_StageWidthAttribute),
        tasks=dict(semseg=TASKS['semseg']),
        heads=dict(semseg=dict(type='ASPPTaskHead', channels=16))))
    assert model.heads['semseg'].feature_channels == (320, )
    assert model.heads['semseg'].feature_strides == (4, )


def test_squad_routing_hands_each_task_its_group_and_the_shared_ones():
    model = tiny_model().eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        level = model.backbone(x)[-1]
        routed = model.extract_feats(x)
    spec = model.backbone.feature_specs[-1]
    lo, hi = spec.task_range(2)
    s0, s1 = spec.shared_range
    expected = torch.cat([level[:, lo:hi], level[:, s0:s1]], dim=1)
    assert torch.equal(routed['sal'][-1], expected)


def test_task_count_mismatch_fails_clearly():
    with pytest.raises(ValueError,
                       match='num_tasks=4 contradicts the model.s 2'):
        tiny_model(tasks=('semseg', 'sal'),
                   backbone=dict(type='SquadNet', arch='tiny', num_tasks=4))


def test_unknown_task_names_fail_clearly():
    with pytest.raises(KeyError, match='segmentation'):
        MODELS.build(dict(type='ASPPTaskHead', task='segmentation',
                          in_channels=8, out_channels=2,
                          loss=dict(type='PixelCrossEntropyLoss')))
    with pytest.raises(KeyError, match='sall'):
        tiny_model(task_weights=dict(sall=1.0))


def test_losses_of_the_same_name_are_summed():
    torch.manual_seed(0)
    l1 = dict(type='MaskedL1Loss')
    model = tiny_model(tasks=('normals', ), heads=dict(normals=dict(
        type='ASPPTaskHead', channels=16,
        loss=[l1, dict(l1, loss_weight=2.0)]))).eval()
    single = tiny_model(tasks=('normals', ), heads=dict(normals=dict(
        type='ASPPTaskHead', channels=16, loss=l1))).eval()
    single.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 32, 32)
    samples = make_samples(tasks=('normals', ))
    both = model(x, samples, mode='loss')['normals.loss_l1']
    one = single(x, samples, mode='loss')['normals.loss_l1']
    assert both.item() == pytest.approx(3 * one.item(), rel=1e-5)


def test_explicit_channels_that_contradict_the_contract_are_named():
    with pytest.raises(ValueError, match='in_channels=384 contradicts the '
                       '256 channels'):
        tiny_model(tasks=('sal', ), heads=dict(sal=dict(
            type='ASPPTaskHead', in_channels=384)))
    with pytest.raises(ValueError, match='out_channels=4 contradicts the 5 '
                       'outputs'):
        tiny_model(tasks=('semseg', ), heads=dict(semseg=dict(
            type='ASPPTaskHead', out_channels=4)))
    with pytest.raises(KeyError, match="must name the same tasks"):
        tiny_model(tasks=('sal', ), heads=dict(
            sal=dict(type='ASPPTaskHead'), depth=dict(type='ASPPTaskHead')))


def test_mmseg_losses_as_its_configs_write_them_are_task_losses():
    """mmseg's loss configs, as its bundled configs write them, work in a
    task head's loss slot: cross-entropy is torch's with ignore index 255,
    averaged over all pixels as mmseg does by default (avg_non_ignore
    False); Dice and sigmoid cross-entropy (a binary task) run, and the
    model trains."""
    ce = get_config('mmseg::_base_/models/deeplabv3_r50-d8.py'
                    ).model.decode_head.loss_decode
    ce = dict(ce, _scope_='mmseg')
    model = tiny_model(tasks=('semseg', 'sal'), heads=dict(
        semseg=dict(type='ASPPTaskHead', channels=16, dilations=(1, 2),
                    loss=[ce, dict(_scope_='mmseg', type='DiceLoss')]),
        sal=dict(type='ASPPTaskHead', channels=16, dilations=(1, 2),
                 loss=dict(ce, use_sigmoid=True)))).eval()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    samples = make_samples(tasks=('semseg', 'sal'))
    samples[0].gt_semseg.data[:, :4] = 255  # ignored pixels
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'semseg.loss_ce', 'semseg.loss_dice',
                           'sal.loss_ce'}
    logits = model.heads['semseg'](model.extract_feats(x)['semseg'])
    logits = torch.nn.functional.interpolate(logits, size=(32, 32),
                                             mode='bilinear')
    target = torch.stack([s.gt_semseg.data[0] for s in samples])
    expected = torch.nn.functional.cross_entropy(
        logits, target, ignore_index=255, reduction='none').mean()
    assert losses['semseg.loss_ce'].item() == pytest.approx(
        expected.item(), rel=1e-5)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(10):
        total = sum(model(x, samples, mode='loss').values())
        optim.zero_grad()
        total.backward()
        optim.step()
        history.append(total.item())
    assert history[-1] < history[0]
