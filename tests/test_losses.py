"""Dense losses against values computed by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmsquad.registry import MODELS


def test_cross_entropy_skips_ignored_pixels():
    loss = MODELS.build(dict(type='PixelCrossEntropyLoss', loss_weight=2.0))
    pred = torch.tensor([[[[2.0, 0.0]], [[0.0, 5.0]]]])  # (1, 2, 1, 2)
    target = torch.tensor([[[[0, 255]]]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 1))
    assert loss(pred, target).item() == pytest.approx(2 * expected)


def test_balanced_bce_weights_by_class_frequency():
    loss = MODELS.build(dict(type='BalancedBCELoss'))
    pred = torch.tensor([[[[0.0, 1.0, -1.0, 3.0]]]])
    target = torch.tensor([[[[1, 0, 0, 255]]]])
    w = 2 / 3  # fraction of negatives among labelled pixels
    pos = -math.log(0.5)
    neg = -math.log(1 - 1 / (1 + math.exp(-1))) - math.log(
        1 - 1 / (1 + math.exp(1)))
    assert loss(pred, target).item() == pytest.approx(
        (w * pos + (1 - w) * neg) / 3, rel=1e-6)


def test_edge_bce_uses_the_fixed_positive_weight():
    loss = MODELS.build(dict(type='BalancedBCELoss', pos_weight=0.95))
    pred = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([[[[1, 0]]]])
    assert loss(pred, target).item() == pytest.approx(
        (0.95 * math.log(2) + 0.05 * math.log(2)) / 2)


def test_normals_l1_normalises_the_prediction():
    loss = MODELS.build(dict(type='NormalsL1Loss'))
    pred = torch.tensor([3.0, 0.0, 4.0]).reshape(1, 3, 1, 1).repeat(
        1, 1, 1, 2)
    target = torch.tensor([[0.0, 255.0], [0.0, 255.0],
                           [1.0, 255.0]]).reshape(1, 3, 1, 2)
    # normalised pred (0.6, 0, 0.8) vs (0, 0, 1) on the one valid pixel
    assert loss(pred, target).item() == pytest.approx((0.6 + 0 + 0.2) / 3)


def test_depth_l1_masks_ignored_pixels():
    loss = MODELS.build(dict(type='MaskedL1Loss'))
    pred = torch.tensor([[[[1.0, 2.0, 9.0]]]])
    target = torch.tensor([[[[1.5, 1.0, 255.0]]]])
    assert loss(pred, target).item() == pytest.approx(0.75)


@pytest.mark.parametrize('cfg', [dict(type='PixelCrossEntropyLoss'),
                                 dict(type='BalancedBCELoss'),
                                 dict(type='NormalsL1Loss'),
                                 dict(type='MaskedL1Loss')])
def test_fully_ignored_target_gives_a_zero_that_keeps_the_graph(cfg):
    loss = MODELS.build(cfg)
    pred = torch.randn(1, 3, 2, 2, requires_grad=True)
    target = torch.full((1, 3, 2, 2), 255)
    value = loss(pred, target)
    assert value.item() == 0
    value.backward()
    assert pred.grad is not None and not pred.grad.any()


@pytest.mark.parametrize('cfg', [dict(type='NormalsL1Loss'),
                                 dict(type='MaskedL1Loss')])
def test_l1_losses_give_ignored_pixels_no_gradient(cfg):
    loss = MODELS.build(cfg)
    channels = 3 if cfg['type'] == 'NormalsL1Loss' else 1
    pred = torch.randn(2, channels, 4, 5)
    pred[0, :, 0, 0] = 1e6  # an ignored pixel far off
    pred.requires_grad_()
    target = torch.rand(2, channels, 4, 5)
    ignored = torch.zeros(2, 1, 4, 5, dtype=torch.bool)
    ignored[0, :, 0, 0] = True
    ignored[1, :, 2:, :] = True
    target = target.masked_fill(ignored, 255)
    loss(pred, target).backward()
    grad = pred.grad.masked_fill(~ignored, 0)
    assert not grad.any()
    assert pred.grad[~ignored.expand_as(pred)].abs().sum() > 0


def test_mmseg_losses_ignore_the_tasks_own_ignore_index():
    """A dense head's mmseg loss ignores the label its task ignores (7
    here, a valid class index of 8), as torch's cross-entropy with that
    ignore_index computes it (mmseg averages over every pixel)."""
    from mmsquad.structures import MultiTaskDataSample
    from mmsquad.tasks import LabelMapTask
    torch.manual_seed(0)
    task = LabelMapTask(num_classes=8, ignore_index=7, name='road')
    head = MODELS.build(dict(
        type='ASPPTaskHead', task=task, feature_channels=(4, ), channels=4,
        dilations=(1, ), loss=dict(_scope_='mmseg', type='CrossEntropyLoss')
    )).eval()  # no dropout: the two forwards agree
    feats = [torch.randn(2, 4, 8, 8)]
    target = torch.randint(0, 8, (2, 1, 8, 8))
    target[:, :, :4] = 7
    samples = []
    for labels in target:
        sample = MultiTaskDataSample(metainfo=dict(img_shape=(8, 8)))
        sample.set_field(task.pack(labels[0].numpy()), task.target_key)
        samples.append(sample)
    loss = head.loss(feats, samples)['loss_ce']
    expected = F.cross_entropy(head(feats), target[:, 0], ignore_index=7,
                               reduction='none').mean()
    torch.testing.assert_close(loss, expected)
