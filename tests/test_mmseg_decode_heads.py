"""mmseg's decode heads from its own bundled model configs as task heads:
their own ``loss_decode`` and their ``auxiliary_head``, checked against
torch's cross-entropy."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper

import mmseg
from mmsquad.registry import MODELS
from toolkit.samples import random_samples

MMSEG_MODELS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs',
                        '_base_', 'models')
HEADS = {'ASPP': 'deeplabv3_r50-d8.py', 'UPer': 'upernet_r50.py',
         'Segformer': 'segformer_mit-b0.py', 'FCN': 'fcn_r50-d8.py'}
SIZE = 32


def build(name: str, loss_weight: float):
    """A semseg model on a narrow mmseg ResNet-18 (four levels, as the
    ResNet-50 of the bundled configs) with the bundled decode head (its
    loss weighted by ``loss_weight``) and auxiliary head."""
    bundled = Config.fromfile(osp.join(MMSEG_MODELS, HEADS[name])).model
    head = dict(bundled.decode_head, _scope_='mmseg',
                norm_cfg=dict(type='BN'))
    head['loss_decode'] = dict(head['loss_decode'], loss_weight=loss_weight)
    auxiliary = bundled.get('auxiliary_head')
    if auxiliary is not None:
        auxiliary = dict(auxiliary, _scope_='mmseg',
                         norm_cfg=dict(type='BN'))
    for part in (head, auxiliary or {}):  # the model fills these in
        part.pop('in_channels', None)
        part.pop('num_classes', None)
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='MultiTaskModel', tasks=['semseg'],
        backbone=dict(type='mmseg.ResNet', depth=18, base_channels=16,
                      stem_channels=16),
        heads=dict(semseg=dict(type='DecodeHeadAdapter', head=head,
                               auxiliary_head=auxiliary)))), auxiliary


def torch_cross_entropy(logits, samples, weight: float):
    """mmseg's cross-entropy by default: ignored pixels (255) count in the
    mean (avg_non_ignore=False), logits resized to the target size."""
    logits = F.interpolate(logits, size=(SIZE, SIZE), mode='bilinear',
                           align_corners=False)
    target = torch.stack([s.gt_semseg.data[0] for s in samples])
    return weight * F.cross_entropy(logits, target, ignore_index=255,
                                    reduction='none').mean()


@pytest.mark.parametrize('name', list(HEADS))
def test_bundled_decode_head_trains_with_its_own_losses(name):
    model, auxiliary = build(name, loss_weight=2.0)
    semseg = model.heads.semseg
    x = torch.randn(2, 3, SIZE, SIZE)
    samples = random_samples(model.tasks, 2, SIZE)
    samples[0].gt_semseg.data[:, :5] = 255  # ignored pixels
    model.eval()  # the same BatchNorm statistics in both computations
    with torch.no_grad():
        losses = model(x, samples, mode='loss')
        feats = model.extract_feats(x)['semseg']
        main = torch_cross_entropy(semseg(feats), samples, 2.0)
    assert losses['semseg.loss_ce'].item() == pytest.approx(main.item(),
                                                            rel=1e-5)
    if auxiliary is not None:  # mmseg's configs weight it 0.4
        with torch.no_grad():
            aux = torch_cross_entropy(
                semseg.auxiliary_heads[0](list(feats)), samples, 0.4)
        assert losses['semseg.aux.loss_ce'].item() == pytest.approx(
            aux.item(), rel=1e-5)
    else:
        assert set(losses) == {'semseg.loss_ce'}
    model.train()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-2))
    log = model.train_step(dict(inputs=list(x.mul(40).add(128).clamp(
        0, 255).byte()), data_samples=samples), wrapper)
    assert all(torch.isfinite(v) for v in log.values())
    # Predictions come from the decode head alone, at the image size.
    model.eval()
    with torch.no_grad():
        predicted = model(x, random_samples(model.tasks, 2, SIZE),
                          mode='predict')
    assert predicted[0].pred_semseg.data.shape[-2:] == (SIZE, SIZE)


def test_loss_decode_is_not_used_for_a_task_that_is_not_a_class_map():
    """mmseg's decode-head losses score class maps: a saliency task (one
    output channel) keeps its own loss, and the log says why."""
    bundled = Config.fromfile(osp.join(MMSEG_MODELS, HEADS['FCN'])).model
    head = dict(bundled.decode_head, _scope_='mmseg', channels=8,
                norm_cfg=dict(type='BN'))
    head.pop('in_channels')
    head.pop('num_classes')
    model = MODELS.build(dict(
        type='MultiTaskModel', tasks=['sal'],
        backbone=dict(type='mmseg.ResNet', depth=18, base_channels=16,
                      stem_channels=16),
        heads=dict(sal=dict(type='DecodeHeadAdapter', head=head))))
    losses = model(torch.randn(2, 3, SIZE, SIZE),
                   random_samples(model.tasks, 2, SIZE), mode='loss')
    assert set(losses) == {'sal.loss_bce'}
