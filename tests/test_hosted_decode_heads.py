"""mmseg decode heads from mmseg's own bundled configs, hosted as task
heads: what their configs ask for is carried out (pixel samplers, the
head's ``align_corners``), checked against mmseg's own loss on the same
features; heads that train themselves (cascades, heads with losses of
their own, query-based heads) as mmseg's segmentor code trains them; what
cannot be hosted is refused when the model is built, naming the setting."""
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


def segmentor_config(config: str) -> dict:
    """The DecodeHeadAdapter arguments of an mmseg bundled config: its
    heads (a cascade as a list), mapped from its backbone's 4 levels, and
    its train_cfg / test_cfg."""
    model = Config.fromfile(osp.join(MMSEG_CONFIGS, config)).model

    def plain(head):
        if isinstance(head, (list, tuple)):
            return [plain(h) for h in head]
        head = dict(head, _scope_='mmseg')
        head.pop('in_channels', None)
        head.pop('num_classes', None)
        if 'norm_cfg' in head:
            head['norm_cfg'] = dict(type='BN')
        return head

    args = dict(head=plain(model.decode_head), backbone_levels=4,
                train_cfg=model.get('train_cfg'),
                test_cfg=model.get('test_cfg'))
    if model.get('auxiliary_head'):
        args['auxiliary_head'] = plain(model.auxiliary_head)
    return args


def build_hosted(args: dict, tasks=('semseg', )) -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='MultiTaskModel', tasks=list(tasks), backbone=BACKBONE,
        heads={task: dict(type='DecodeHeadAdapter', **args)
               for task in tasks}))


@pytest.mark.parametrize('config', [
    # A cascade: OCRHead refines FCNHead's logits (prev_output).
    'ocrnet/ocrnet_hr18_4xb2-160k_cityscapes-512x1024.py',
    # A cascade whose last stage samples points (train_cfg, test_cfg).
    'point_rend/pointrend_r50_4xb2-80k_cityscapes-512x1024.py',
    # A head with three outputs and a loss for each, an FCN auxiliary head.
    '_base_/models/danet_r50-d8.py',
    # Query-based, its own set-prediction losses; class_weight of 150
    # classes and a no-object weight fitted to the task's 21.
    'mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py',
    # STDC's boundary head: its own loss, as an auxiliary head.
    'stdc/stdc1_4xb12-80k_cityscapes-512x1024.py',
], ids=['ocrnet', 'pointrend', 'danet', 'mask2former', 'stdc'])
def test_a_head_that_trains_itself_equals_mmsegs_segmentor(config):
    """Cascades, heads with losses of their own and query-based heads
    train and predict as mmseg's own segmentor code does on the same
    features (they were refused, or trained with mmsquad's per-pixel loss
    in place of theirs)."""
    from toolkit.compat import as_mmseg_segmentor
    model = build_hosted(segmentor_config(config))
    hosted = model.heads.semseg
    assert hosted.self_trained or any(hosted.auxiliary_self_trained)
    samples = random_samples(model.tasks, 2, SIZE)
    samples[0].gt_semseg.data[:, :5] = 255  # ignored pixels
    x = torch.randn(2, 3, SIZE, SIZE)
    losses = model(x, samples, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert not [n for n, p in hosted.named_parameters()
                if p.requires_grad and p.grad is None]
    model.eval()  # the same BatchNorm statistics in both computations
    with torch.no_grad():
        torch.manual_seed(1)  # point and query heads sample points
        ours = model(x, samples, mode='loss')
        feats = list(model.extract_feats(x)['semseg'])
        segmentor = as_mmseg_segmentor(hosted, feats)
        seg = [SegDataSample(gt_sem_seg=PixelData(data=s.gt_semseg.data),
                             metainfo=dict(img_shape=(SIZE, SIZE),
                                           pad_shape=(SIZE, SIZE)))
               for s in samples]
        torch.manual_seed(1)
        theirs = segmentor._decode_head_forward_train(feats, seg)
        if segmentor.with_auxiliary_head:
            theirs.update(segmentor._auxiliary_head_forward_train(feats,
                                                                  seg))
        predicted = model.predict(x, samples)
        expected = segmentor.encode_decode(None, [s.metainfo for s in seg])
    assert len([k for k in theirs if 'loss' in k]) == len(
        [k for k in ours if 'loss' in k])
    assert sum(float(v) for k, v in ours.items() if 'loss' in k) == \
        pytest.approx(sum(float(v) for k, v in theirs.items()
                          if 'loss' in k), rel=1e-5)
    for sample, logits in zip(predicted, expected):
        assert torch.equal(sample.pred_semseg.data[0], logits.argmax(0))


def test_a_cascade_stage_alone_is_refused_naming_its_input():
    ocr = segmentor_config('_base_/models/ocrnet_r50-d8.py')['head'][1]
    with pytest.raises(ValueError, match=r"OCRHead cannot be hosted: its "
                       r"forward needs \['prev_output'\].*cascade stage"):
        build(ocr)


def test_a_head_that_reads_its_own_backbone_is_refused():
    """DDRNet's head unpacks its backbone's two outputs instead of the
    levels its in_index selects."""
    args = segmentor_config('ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_'
                            'cityscapes-1024x1024.py')
    with pytest.raises(ValueError, match='DDRHead cannot be hosted: it does '
                       'not read the feature levels its in_index selects'):
        build_hosted(args)


def test_a_head_that_trains_itself_needs_a_class_map_and_its_own_loss():
    args = segmentor_config('_base_/models/danet_r50-d8.py')
    with pytest.raises(ValueError, match="DAHead trains itself on class "
                       "labels.*task 'depth' is a"):
        build_hosted(dict(args, auxiliary_head=None), tasks=['depth'])
    with pytest.raises(ValueError, match='DAHead trains itself with its own '
                       'losses; loss= cannot replace them'):
        build_hosted(dict(args, loss=dict(type='PixelCrossEntropyLoss')))


def test_class_weights_of_another_dataset_are_refused_by_key():
    """CGNet's loss weighs Cityscapes' 19 classes: the task has 21."""
    args = segmentor_config('cgnet/cgnet_fcn_4xb4-60k_cityscapes-'
                            '680x680.py')
    with pytest.raises(ValueError, match='CrossEntropyLoss: class_weight has '
                       '19 entries.*the task has 21 classes'):
        build_hosted(args)
    args['head']['loss_decode'].pop('class_weight')
    head = build_hosted(args).heads.semseg.head  # num_convs=0: channels
    assert head.channels == head.in_channels  # are the features'


def test_a_head_that_fails_on_the_features_is_refused_before_training():
    """DPT reassembles a ViT's tokens: tried on the task's features when
    built, it is refused naming the failed assertion (a bare
    AssertionError at the first iteration before)."""
    args = segmentor_config('dpt/dpt_vit-b16_8xb2-160k_ade20k-512x512.py')
    with pytest.raises(ValueError, match=r"DPTHead fails on the task's "
                       r'features.*AssertionError: assert len'):
        build_hosted(args)


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
