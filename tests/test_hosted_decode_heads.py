"""mmseg decode heads from mmseg's own bundled configs, hosted as task
heads: what their configs ask for is carried out (pixel samplers, the
head's ``align_corners``), checked against mmseg's own loss on the same
features; what cannot be hosted is refused when the model is built, naming
the setting."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

import mmseg
from mmseg.structures import SegDataSample
from mmsquad.registry import MODELS
from toolkit.samples import random_samples

MMSEG_CONFIGS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')
SIZE = 32
BACKBONE = dict(type='mmseg.ResNet', depth=18, base_channels=16,
                stem_channels=16)


def bundled_head(config: str, **changes) -> dict:
    """The decode head of an mmseg bundled config, for a task of the
    model (channels and classes left to the model), with ``changes``."""
    head = Config.fromfile(osp.join(MMSEG_CONFIGS, config)).model.decode_head
    if isinstance(head, (list, tuple)):
        return [dict(h, _scope_='mmseg') for h in head]
    head = dict(head, _scope_='mmseg', norm_cfg=dict(type='BN'), **changes)
    head.pop('in_channels', None)
    head.pop('num_classes', None)
    return head


def build(head) -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='MultiTaskModel', tasks=['semseg'], backbone=BACKBONE,
        heads=dict(semseg=dict(type='DecodeHeadAdapter', head=head))))


def mmseg_losses(head, feats, samples) -> dict:
    """mmseg's own loss of its head on the same features and labels."""
    seg_samples = [SegDataSample(gt_sem_seg=PixelData(
        data=s.gt_semseg.data)) for s in samples]
    for seg, sample in zip(seg_samples, samples):
        seg.set_metainfo(dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE,
                                                                  SIZE)))
    return head.loss_by_feat(head(list(feats)), seg_samples)


@pytest.mark.parametrize('config, changes', [
    # The bundled OHEM of DeepLabV3 (loss-ranked), kept to fewer pixels
    # than the small batch has, so that it changes the loss.
    ('deeplabv3/deeplabv3_r101-d16-mg124_4xb2-40k_cityscapes-512x1024.py',
     dict(sampler=dict(type='OHEMPixelSampler', min_kept=200))),
    # Probability-ranked OHEM (a threshold below every probability: the
    # least confident pixels kept), with align_corners=True.
    ('pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
     dict(in_index=-1, align_corners=True,
          sampler=dict(type='OHEMPixelSampler', thresh=0.0,
                       min_kept=100))),
], ids=['deeplabv3-ohem', 'pspnet-ohem-thresh'])
def test_a_hosted_head_loss_equals_mmsegs_own(config, changes):
    model = build(bundled_head(config, **changes))
    samples = random_samples(model.tasks, 2, SIZE)
    samples[0].gt_semseg.data[:, :5] = 255  # ignored pixels
    x = torch.randn(2, 3, SIZE, SIZE)
    model.eval()  # the same BatchNorm statistics in both computations
    with torch.no_grad():
        ours = model(x, samples, mode='loss')['semseg.loss_ce']
        feats = model.extract_feats(x)['semseg']
        head = model.heads.semseg.head
        theirs = mmseg_losses(head, feats, samples)['loss_ce']
        head.sampler = None
        unsampled = mmseg_losses(head, feats, samples)['loss_ce']
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    assert abs(theirs.item() - unsampled.item()) > 1e-3  # OHEM mattered


def test_deeplabv3plus_low_level_channels_come_from_the_features():
    """The bundled DeepLabV3+ head's low-level branch expects ResNet's 256
    channels of the first level (c1_in_channels): filled from the
    features; its loss equals mmseg's own."""
    head = bundled_head('_base_/models/deeplabv3plus_r50-d8.py',
                        in_index=-1, c1_channels=8, channels=16)
    model = build(head)
    assert model.heads.semseg.head.c1_bottleneck.conv.in_channels == \
        model.heads.semseg.feature_channels[0]
    samples = random_samples(model.tasks, 2, SIZE)
    x = torch.randn(2, 3, SIZE, SIZE)
    model.eval()
    with torch.no_grad():
        ours = model(x, samples, mode='loss')['semseg.loss_ce']
        feats = model.extract_feats(x)['semseg']
        theirs = mmseg_losses(model.heads.semseg.head, feats,
                              samples)['loss_ce']
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


def test_cascade_decode_heads_are_refused_by_name():
    with pytest.raises(ValueError, match=r"\['FCNHead', 'OCRHead'\] is a cascade"):
        build(bundled_head('_base_/models/ocrnet_r50-d8.py'))


def test_a_head_that_needs_more_than_features_is_refused():
    ocr = bundled_head('_base_/models/ocrnet_r50-d8.py')[1]
    ocr.pop('in_channels', None)
    ocr.pop('num_classes', None)
    with pytest.raises(ValueError, match="OCRHead.*prev_output"):
        build(ocr)


def test_a_query_based_head_is_refused():
    head = bundled_head(
        'mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py')
    with pytest.raises(ValueError, match='Mask2FormerHead cannot be hosted'
                       r".*\['batch_data_samples'\]"):
        build(head)


def test_a_head_with_a_loss_of_its_own_is_refused():
    """STDC's boundary head computes its own loss_by_feat (a boundary
    loss); mmsquad's per-pixel losses would replace it silently."""
    stdc = Config.fromfile(osp.join(MMSEG_CONFIGS, '_base_', 'models',
                                    'stdc.py')).model.auxiliary_head
    head = next(h for h in stdc if h['type'] == 'STDCHead')
    head = dict(head, _scope_='mmseg', in_index=-1)
    head.pop('in_channels', None)
    head.pop('num_classes', None)
    with pytest.raises(ValueError, match='STDCHead computes its own loss '
                       r'\(loss_by_feat\)'):
        build(head)


def test_an_in_index_beyond_the_feature_levels_is_named():
    head = bundled_head('_base_/models/pspnet_r50-d8.py', in_index=7)
    with pytest.raises(ValueError, match=r'in_index 7.*4 feature levels'):
        build(head)


@pytest.mark.parametrize('index, mapped', [
    (3, 2), (2, 1), (0, 0), (-1, 2), ([0, 1, 2, 3], [0, 1, 2]),
    ([1, 2], [0, 1]), ([0], [0])])
def test_backbone_levels_map_in_index_deepest_onto_deepest(index, mapped):
    """A head written for mmseg's 4 ResNet levels on a task of 3: the
    config's deepest level is the task's deepest, its shallowest dropped
    (a single index goes no shallower than the task's first level)."""
    from mmsquad.models.heads.decode_head_adapter import with_task_levels
    head = with_task_levels(dict(type='FCNHead', in_index=index), 4, 3)
    assert head['in_index'] == mapped


def test_a_bundled_pspnet_trains_with_its_backbone_levels():
    """PSPNet's bundled in_index 3 (and its FCN auxiliary head's 2) count
    ResNet's 4 levels: with backbone_levels=4 they read the task's deepest
    and second-deepest levels (an IndexError before)."""
    cfg = Config.fromfile(osp.join(
        MMSEG_CONFIGS, 'pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-'
        '512x1024.py')).model
    head, aux = (dict(h, _scope_='mmseg', norm_cfg=dict(type='BN'))
                 for h in (cfg.decode_head, cfg.auxiliary_head))
    for h in (head, aux):
        h.pop('in_channels')
        h.pop('num_classes')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskModel', tasks=['semseg'], backbone=BACKBONE,
        heads=dict(semseg=dict(type='DecodeHeadAdapter', head=head,
                               auxiliary_head=aux, backbone_levels=4))))
    hosted = model.heads.semseg
    assert hosted.head.in_index == 3 and hosted.auxiliary_heads[0].in_index \
        == 2  # ResNet-18 here: 4 levels, nothing to map
    model = MODELS.build(dict(
        type='MultiTaskModel', tasks=['semseg'],
        backbone=dict(BACKBONE, out_indices=(1, 2, 3)),
        heads=dict(semseg=dict(type='DecodeHeadAdapter', head=head,
                               auxiliary_head=aux, backbone_levels=4))))
    hosted = model.heads.semseg
    assert hosted.head.in_index == 2 and hosted.auxiliary_heads[0].in_index \
        == 1
    losses = model(torch.randn(2, 3, SIZE, SIZE),
                   random_samples(model.tasks, 2, SIZE), mode='loss')
    assert torch.isfinite(losses['semseg.loss_ce'])
    assert torch.isfinite(losses['semseg.aux.loss_ce'])
