"""The underwater model: SquadNet with an mmdet detection branch and an
enhancement head; partial labels; swapping the mmdet head by config."""
import copy
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from pytorch_msssim import ssim

import mmdet

from conftest import REPO, UNDERWATER_DEMO_CONFIG
from mmsquad.registry import DATASETS, MODELS


def demo_cfg():
    return Config.fromfile(UNDERWATER_DEMO_CONFIG)


def gfl_head_for_demo():
    """The GFL head of configs/squad/underwater_gfl.py, slimmed like the
    demo's RetinaHead."""
    head = Config.fromfile(osp.join(REPO, 'configs', 'squad',
                                    'underwater_gfl.py')).model.heads.det.head
    head.update(feat_channels=64, stacked_convs=2)
    head.anchor_generator.strides = [4, 8, 16, 32]
    return head


FCOS_HEAD = dict(
    _scope_='mmdet', type='FCOSHead', num_classes=4, in_channels=64,
    feat_channels=64, stacked_convs=2, strides=[4, 8, 16, 32],
    regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 1e8)),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))


def build_model(det_head=None):
    cfg = demo_cfg()
    if det_head is not None:
        cfg.model.heads.det.head = det_head
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def batch(underwater_root, model, training=True, n=4):
    cfg = demo_cfg()
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset.to_dict(),
                                  data_root=underwater_root))
    data = pseudo_collate([dataset[i] for i in range(n)])
    return model.data_preprocessor(data, training)


def det_and_enhance(losses):
    det = sum(v for k, v in losses.items() if k.startswith('det.'))
    enhance = losses['enhance.loss_l1_ssim']
    return det, enhance


def test_each_task_learns_only_from_its_labelled_samples(underwater_root):
    model = build_model().eval()  # eval: per-sample features, no BN mixing
    data = batch(underwater_root, model)
    inputs, samples = data['inputs'], data['data_samples']
    for s in samples[2:]:
        del s.gt_instances  # enhancement-only samples
    del samples[0].gt_enhance  # a detection-only sample
    with torch.no_grad():
        det, enhance = det_and_enhance(model.loss(inputs, samples))
        det_ref, _ = det_and_enhance(model.loss(inputs[:2], samples[:2]))
        _, enh_ref = det_and_enhance(model.loss(inputs[1:], samples[1:]))
    torch.testing.assert_close(det, det_ref)
    torch.testing.assert_close(enhance, enh_ref)


def test_a_batch_without_boxes_gives_zero_det_loss_and_full_graph(
        underwater_root):
    model = build_model()
    data = batch(underwater_root, model)
    for s in data['data_samples']:
        del s.gt_instances
    losses = model.loss(data['inputs'], data['data_samples'])
    det = {k: v for k, v in losses.items() if k.startswith('det.')}
    assert set(det) == {'det.loss_cls', 'det.loss_bbox'}
    assert all(float(v) == 0 for v in det.values())
    sum(losses.values()).backward()
    for name, p in model.heads.det.named_parameters():
        assert p.grad is not None, name  # DDP sees every parameter used


def test_predict_returns_instances_and_the_enhanced_image(underwater_root):
    model = build_model().eval()
    data = batch(underwater_root, model, training=False)
    with torch.no_grad():
        samples = model.predict(data['inputs'], data['data_samples'])
    for s in samples:
        h, w = s.ori_shape
        pred = s.pred_instances
        assert {'bboxes', 'scores', 'labels'} <= set(pred.keys())
        assert s.scale_factor == (2.0, 2.0)  # 64 -> 128
        assert pred.bboxes.shape[1] == 4
        if len(pred.bboxes):
            assert float(pred.bboxes[:, 2:].max()) <= max(h, w) + 1e-3
        image = s.pred_enhance.data
        assert image.shape == (3, h, w)
        assert 0 <= float(image.min()) and float(image.max()) <= 1


def test_detection_head_takes_its_channels_from_the_fpn():
    model = build_model()
    assert model.heads.det.head.in_channels == 64
    assert model.heads.det.neck.out_channels == 64
    with pytest.raises(ValueError, match=r'head.in_channels=32 contradicts '
                       'the 64 channels'):
        build_model(dict(demo_cfg().model.heads.det.head, in_channels=32))


MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


@pytest.mark.parametrize('config,key', [
    ('retinanet/retinanet_r50_fpn_1x_coco.py', 'head.anchor_generator'),
    ('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py', 'head.strides')])
def test_mmdet_head_strides_are_checked_against_the_features(config, key):
    """mmdet's bundled heads assume a ResNet FPN (strides 8 to 128); on
    SquadNet-small's FPN (4 to 64) that is an error naming both lists and
    the key to change, or the strides come from the features."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'squad',
                                   'underwater.py'))
    bundled = Config.fromfile(osp.join(MMDET_CONFIGS, config)).model
    cfg.model.heads.det.head = dict(
        bundled.bbox_head, _scope_='mmdet', num_classes=4,
        train_cfg=bundled.get('train_cfg'), test_cfg=bundled.test_cfg)
    with pytest.raises(ValueError, match=re.escape(
            "prior strides [8, 16, 32, 64, 128] differ from the strides of "
            "the features it gets, [4, 8, 16, 32, 64]; set " + key)):
        MODELS.build(cfg.model)
    cfg.model.heads.det.strides_from_features = True
    model = MODELS.build(cfg.model)
    assert model.heads.det.head.prior_generator.strides == [
        (4, 4), (8, 8), (16, 16), (32, 32), (64, 64)]


def train_bundled_head(config: str, num_outs: int, underwater_root):
    """mmdet's bundled dense head of ``config`` (narrowed, with its own
    train/test settings, strides from the features) on tiny SquadNet:
    one training step outside a Runner, then a prediction; the model."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'squad',
                                   'underwater.py'))
    bundled = Config.fromfile(osp.join(MMDET_CONFIGS, config)).model
    det = cfg.model.heads.det
    det.neck.update(out_channels=32, num_outs=num_outs)
    det.head = dict(bundled.bbox_head, _scope_='mmdet', num_classes=4,
                    in_channels=None, feat_channels=32, stacked_convs=1,
                    train_cfg=bundled.get('train_cfg'),
                    test_cfg=bundled.test_cfg)
    det.strides_from_features = True
    cfg.model.backbone.arch = 'tiny'
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    data = batch(underwater_root, model, training=False, n=2)
    raw = dict(inputs=list(data['inputs']),
               data_samples=data['data_samples'])
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    log = model.train_step(raw, wrapper)
    assert all(torch.isfinite(v) for v in log.values())
    assert any(k.startswith('det.loss') for k in log)
    model.eval()
    with torch.no_grad():
        samples = model.test_step(raw)
    assert all('bboxes' in s.pred_instances for s in samples)
    return model


@pytest.mark.parametrize('config,num_outs', [
    ('vfnet/vfnet_r50_fpn_1x_coco.py', 5),  # one regress range per level
    # mmcv refuses maps smaller than the kernel: no 2x2 level at 128 px
    ('ddod/ddod_r50_fpn_1x_coco.py', 4)])
def test_heads_with_deformable_convolutions_train_in_a_channels_last_model(
        config, num_outs, underwater_root):
    """mmcv's deformable convolutions take contiguous tensors only: their
    head stays contiguous in a channels-last model and trains."""
    model = train_bundled_head(config, num_outs, underwater_root)
    assert model.channels_last and model.contiguous_tasks == ['det']


@pytest.mark.parametrize('config', ['paa/paa_r50_fpn_1x_coco.py',
                                    'tood/tood_r50_fpn_1x_coco.py'])
def test_paa_and_tood_train_outside_a_runner(config, underwater_root):
    """PAA fits Gaussian mixtures with scikit-learn (a dependency); TOOD
    reads the epoch from the message hub, which mmsquad's detection head
    starts at 0 where no runner has set one."""
    train_bundled_head(config, 5, underwater_root)


@pytest.mark.parametrize('det_head', [None, 'gfl', FCOS_HEAD],
                         ids=['RetinaHead', 'GFLHead', 'FCOSHead'])
def test_mmdet_heads_drop_in_by_config_and_train(underwater_root,
                                                 det_head):
    if det_head == 'gfl':
        det_head = gfl_head_for_demo()
    model = build_model(copy.deepcopy(det_head))
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    data = batch(underwater_root, model, training=False)
    raw = dict(inputs=list(data['inputs']),
               data_samples=data['data_samples'])
    before = {n: p.detach().clone()
              for n, p in model.heads.det.named_parameters()}
    for _ in range(3):
        log = model.train_step(raw, wrapper)
        assert all(torch.isfinite(v) for v in log.values())
    assert any(k.startswith('det.loss') for k in log)
    # Per-level box scales only move where a level has positives; the
    # small demo objects sit on the finest levels.
    unchanged = [n for n, p in model.heads.det.named_parameters()
                 if torch.equal(before[n], p) and '.scales.' not in n]
    assert unchanged == []


def test_l1_ssim_loss_against_pytorch_msssim_and_ignores_padding():
    loss = MODELS.build(dict(type='L1SSIMLoss'))
    torch.manual_seed(0)
    pred = torch.rand(2, 3, 24, 30)
    target = torch.rand(2, 3, 24, 30)
    expected = torch.stack([
        (p - t).abs().mean() + 1 - ssim(p[None], t[None], data_range=1.0)
        for p, t in zip(pred, target)]).mean()
    torch.testing.assert_close(loss(pred, target), expected)
    # Padding (-1, bottom and right) does not count.
    padded_t = torch.full((2, 3, 32, 40), -1.0)
    padded_t[:, :, :24, :30] = target
    padded_p = torch.rand(2, 3, 32, 40)
    padded_p[:, :, :24, :30] = pred
    torch.testing.assert_close(loss(padded_p, padded_t), expected)


def test_enhancement_head_predicts_at_full_resolution():
    head = MODELS.build(dict(type='EnhancementHead', task='enhance',
                             in_channels=[8, 16, 32], channels=8))
    feats = [torch.randn(2, 8, 16, 20), torch.randn(2, 16, 8, 10),
             torch.randn(2, 32, 4, 5)]
    out = head(feats)
    assert out.shape == (2, 3, 32, 40)
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    with pytest.raises(ValueError, match='3 in_channels but got 2'):
        head(feats[:2])
