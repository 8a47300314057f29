"""Whole mmdet detectors as the detection task: mmdet's own bundled configs
(one-stage, two-stage, query-based) hosted on SquadNet's features."""
import copy
import os.path as osp
import sys

import pytest
import torch
from mmcv.ops import RoIAlign
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

import mmdet
import mmengine

from conftest import UNDERWATER_DEMO_CONFIG
from mmsquad.models.heads.dense_head_adapter import with_test_metainfo
from mmsquad.registry import DATASETS, MODELS

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
DETECTORS = {
    'RetinaNet': 'retinanet/retinanet_r50_fpn_1x_coco.py',
    'FCOS': 'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'ATSS': 'atss/atss_r50_fpn_1x_coco.py',
    'GFL': 'gfl/gfl_r50_fpn_1x_coco.py',
    'TOOD': 'tood/tood_r50_fpn_1x_coco.py',
    'VFNet': 'vfnet/vfnet_r50_fpn_1x_coco.py',
    'PAA': 'paa/paa_r50_fpn_1x_coco.py',
    'AutoAssign': 'autoassign/autoassign_r50-caffe_fpn_1x_coco.py',
    'CenterNet': 'centernet/centernet-update_r50-caffe_fpn_ms-1x_coco.py',
    'DDOD': 'ddod/ddod_r50_fpn_1x_coco.py',
    'Faster R-CNN': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'Cascade R-CNN': 'cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
    # No neck; the RoI head's shared_head (a ResNet stage) reads the
    # features' channels, not its backbone's 1024.
    'Faster R-CNN C4': 'faster_rcnn/faster-rcnn_r50-caffe_c4-1x_coco.py',
    'DINO': 'dino/dino-4scale_r50_8xb2-12e_coco.py',
    # No neck: the head reads the features (its in_channels, and
    # num_feat_levels, the stacks of its Hourglass backbone, are theirs);
    # its heatmap views need contiguous tensors in a channels-last model.
    'CornerNet': 'cornernet/cornernet_hourglass104_8xb6-210e-mstest_coco.py',
    # Reads mmdet's test-time ``border`` (the image's place in the batch).
    'CenterNet (DCN)': 'centernet/centernet_r18-dcnv2_8xb16-crop512-140e_'
                       'coco.py',
}
#: Detectors that segment instances (they train on masks, and HTC and
#: SCNet on semantic maps too).
MASK_DETECTORS = {
    'Mask R-CNN': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'HTC': 'htc/htc_r50_fpn_1x_coco.py',
    'SCNet': 'scnet/scnet_r50_fpn_1x_coco.py',
    'CondInst': 'condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py',
    'SOLOv2': 'solov2/solov2_r50_fpn_1x_coco.py',
    'YOLACT': 'yolact/yolact_r50_1xb8-55e_coco.py',
    'RTMDet-Ins': 'rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py',
}


def bundled_detector(name: str) -> Config:
    """The ``model`` of mmdet's bundled config, read from the installed
    mmdet, without the download of a C4 shared head's weights."""
    model = Config.fromfile(osp.join(MMDET_CONFIGS, {
        **DETECTORS, **MASK_DETECTORS}[name])).model
    model.get('roi_head', {}).get('shared_head', {}).pop('init_cfg', None)
    fewer_regions(model)
    if name == 'DINO':  # shallower and fewer queries, to be quick
        model.update(num_queries=30)
        model.test_cfg.max_per_img = 30
        model.encoder.num_layers = model.decoder.num_layers = 1
    if name == 'DDOD':
        # mmcv's deformable convolution refuses maps smaller than its
        # kernel: no 2x2 level (stride 64) at 128 px.
        model.neck.num_outs = 4
    return model


def fewer_regions(cfg) -> None:
    """Cap the proposals and sampled RoIs of ``cfg``'s two-stage settings
    at tens (COCO's thousands of RoIs through a C4 shared head, a ResNet
    stage, took minutes on a CPU): the same code paths, less arithmetic."""
    items = cfg.values() if isinstance(cfg, dict) else cfg
    if isinstance(cfg, dict) and isinstance(cfg.get('sampler'), dict) \
            and 'num' in cfg['sampler']:
        cfg['sampler']['num'] = min(cfg['sampler']['num'], 32)
    if isinstance(cfg, dict) and 'nms_pre' in cfg and 'max_per_img' in cfg:
        cfg['nms_pre'] = min(cfg['nms_pre'], 200)
        cfg['max_per_img'] = min(cfg['max_per_img'], 50)
    for item in items:
        if isinstance(item, (dict, list)):
            fewer_regions(item)


def keep_every_box(cfg) -> None:
    """Set every ``score_thr`` in ``cfg`` to 0: an untrained detector's
    scores are below mmdet's thresholds, and the test needs boxes."""
    items = cfg.values() if isinstance(cfg, dict) else cfg
    if isinstance(cfg, dict) and 'score_thr' in cfg:
        cfg['score_thr'] = 0.0
    for item in items:
        if isinstance(item, (dict, list)):
            keep_every_box(item)


def build_model(detector, channels_last: bool = True, **det_args):
    """The underwater demo model (SquadNet-tiny) with ``detector`` hosted
    as its det task."""
    cfg = Config.fromfile(UNDERWATER_DEMO_CONFIG)
    cfg.model.backbone.arch = 'tiny'
    cfg.model.channels_last = channels_last
    cfg.model.heads.det = dict(type='DetectorAdapter', detector=detector,
                               num_classes=4, **det_args)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def raw_batch(underwater_root: str, n: int = 2, size: int = 128,
              masks: bool = False, semantic: bool = False,
              proposals: bool = False) -> dict:
    """``n`` samples of the underwater demo (64x64 images, resized to
    ``size`` by the pipeline; with instance ``masks``, ``semantic`` maps
    and precomputed ``proposals`` if asked, the last loaded as mmdet's Fast
    R-CNN configs do), as a data loader gives them."""
    cfg = Config.fromfile(UNDERWATER_DEMO_CONFIG)
    dataset = cfg.train_dataloader.dataset.to_dict()
    for step in dataset['pipeline']:
        for inner in step.get('transforms', [step]):
            if inner['type'].endswith('Resize'):
                inner['scale'] = (size, size)
            if inner['type'].endswith('LoadAnnotations'):
                inner.update(with_mask=masks, with_seg=semantic)
    if semantic:
        dataset['data_prefix']['seg'] = 'semantic/train/'
    if proposals:
        dataset['proposal_file'] = 'proposals/train.pkl'
        dataset['pipeline'] = [
            dict(type='mmdet.ProposalBroadcaster', transforms=[step])
            if step['type'] == 'WithReference' else step
            for step in dataset['pipeline']]
        dataset['pipeline'].insert(1, dict(type='mmdet.LoadProposals'))
    dataset = DATASETS.build(dict(dataset, data_root=underwater_root))
    return pseudo_collate([dataset[i] for i in range(n)])


@pytest.mark.parametrize('name', list(DETECTORS))
def test_bundled_detector_trains_and_predicts_in_image_coordinates(
        name, underwater_root):
    detector = bundled_detector(name)
    keep_every_box(detector)
    model = build_model(detector, strides_from_features=True)
    raw = raw_batch(underwater_root)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    for _ in range(2):
        log = model.train_step(raw, wrapper)
        assert all(torch.isfinite(v) for v in log.values()), log
    assert any(k.startswith('det.') and 'loss' in k for k in log)
    model.eval()
    with torch.no_grad():
        samples = model.test_step(raw)
        # The detector's own boxes in the network's input coordinates.
        data = model.data_preprocessor(raw, False)
        feats = model.extract_feats(data['inputs'])['det']
        feats = feats[-model.heads.det.levels:] if model.heads.det.levels \
            else feats
        with_test_metainfo(data['data_samples'])  # as mmdet's test pipeline
        unscaled = model.heads.det.detector.predict(
            tuple(f.float() for f in feats), data['data_samples'],
            rescale=False)
    for sample, before in zip(samples, unscaled):
        boxes = sample.pred_instances.bboxes
        # 64x64 images, resized to 128x128 for the network.
        assert sample.ori_shape == (64, 64) and len(boxes)
        assert sample.scale_factor == (2.0, 2.0)
        scale = boxes.new_tensor(sample.scale_factor).repeat(2)
        torch.testing.assert_close(boxes, before.pred_instances.bboxes /
                                   scale)


@pytest.mark.parametrize('name', [*DETECTORS, *MASK_DETECTORS])
def test_a_batch_without_boxes_gives_zero_losses_and_full_graph(
        name, underwater_root):
    """No image of the batch labelled for detection (enhancement-only
    pairs): the first stands in with no boxes, no masks and (HTC, SCNet)
    a semantic map of ignored pixels, so every parameter stays in the
    graph (DDP) and the losses are zero (mask detectors failed on the
    stand-in's missing masks before)."""
    detector = bundled_detector(name)
    model = build_model(detector, strides_from_features=True)
    data = model.data_preprocessor(raw_batch(underwater_root), True)
    for sample in data['data_samples']:
        del sample.gt_instances  # enhancement-only samples
    losses = model.loss(data['inputs'], data['data_samples'])
    det = {k: v for k, v in losses.items() if k.startswith('det.')}
    assert det and all(float(v) == 0 for v in det.values())
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in model.heads.det.named_parameters()
               if p.requires_grad and p.grad is None]
    assert missing == []  # DDP sees every parameter used


def test_only_samples_with_boxes_train_the_detector(underwater_root):
    model = build_model(bundled_detector('Faster R-CNN'),
                        strides_from_features=True).eval()
    data = model.data_preprocessor(raw_batch(underwater_root, 3), True)
    inputs, samples = data['inputs'], data['data_samples']
    del samples[1].gt_instances
    head = model.heads.det
    with torch.no_grad():
        feats = model.extract_feats(inputs)['det']
        torch.manual_seed(0)  # the RPN and RoI samplers draw
        mixed = head.loss(feats, samples)
        torch.manual_seed(0)
        labelled = head.loss([f[[0, 2]] for f in feats],
                             [samples[0], samples[2]])
    assert mixed.keys() == labelled.keys()
    for key in mixed:
        torch.testing.assert_close(mixed[key], labelled[key])


@pytest.mark.parametrize('config', ['rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
                                    'yolox/yolox_tiny_8xb8-300e_coco.py'])
def test_strides_through_any_neck_are_measured_and_checked(config,
                                                          underwater_root):
    """RTMDet's CSPNeXtPAFPN and YOLOX's YOLOXPAFPN are not FPN-like: the
    strides they deliver are measured by running them once. Their priors
    assume ResNet-like strides 8 to 32, SquadNet's features are finer:
    refused (it trained silently wrong before), or set from the
    features."""
    detector = Config.fromfile(osp.join(MMDET_CONFIGS, config)).model
    with pytest.raises(ValueError, match=r'strides \[8, 16, 32\] differ '
                       r'from the strides of the features it gets, '
                       r'\[2, 4, 8\]'):
        build_model(detector)
    model = build_model(detector, strides_from_features=True)
    assert model.heads.det.detector.bbox_head.prior_generator.strides == [
        (2, 2), (4, 4), (8, 8)]
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    log = model.train_step(raw_batch(underwater_root), wrapper)
    assert all(torch.isfinite(v) for v in log.values()), log
    assert any(k.startswith('det.') and 'loss' in k for k in log)


def test_a_one_level_neck_gets_one_level_and_every_parameter_learns(
        underwater_root):
    """Conditional DETR's ChannelMapper maps one ResNet level (C5): it
    gets the deepest feature level only. Widened to every level, as
    before, two of its convolutions never got a gradient (and DDP without
    find_unused_parameters fails)."""
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'conditional_detr',
        'conditional-detr_r50_8xb2-50e_coco.py')).model
    model = build_model(detector)
    neck = model.heads.det.detector.neck
    assert len(neck.convs) == 1
    model.zero_grad()
    data = model.data_preprocessor(raw_batch(underwater_root), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    idle = [n for n, p in neck.named_parameters() if p.grad is None]
    assert not idle


def test_a_neck_that_fails_on_the_features_is_refused_by_name():
    """NAS-FCOS's searched neck indexes the 4 levels of its backbone from
    its start_level: tried on the task's 3 levels when built, it is
    refused naming the neck and its error (an IndexError at the first
    iteration before)."""
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'nas_fcos/nas-fcos_r50-caffe_fpn_nashead-gn-head_4xb4-'
        '1x_coco.py')).model
    detector.neck.pop('init_cfg', None)
    with pytest.raises(ValueError, match=r'the neck NASFCOS_FPN cannot be '
                       r'built for the features it gets or fails on them.*'
                       r'IndexError'):
        build_model(detector, strides_from_features=True)


def test_ssd_passes_the_features_through_its_neck_and_predicts(
        underwater_root):
    """SSD's neck passes its inputs on (its out_channels begin with its
    in_channels): both, and the head's in_channels, follow the features
    (a bare AssertionError before); its head, which has no loss_cls,
    predicts despite mmdet 3.3's read of one (mmdetection#11063)."""
    detector = Config.fromfile(osp.join(MMDET_CONFIGS,
                                        'ssd/ssd300_coco.py')).model
    keep_every_box(detector)
    model = build_model(detector, strides_from_features=True)
    ssd = model.heads.det.detector
    levels = list(model.heads.det.feature_channels[-2:])
    assert ssd.neck.l2_norm.weight.numel() == levels[0]
    assert list(ssd.bbox_head.in_channels)[:2] == levels
    raw = raw_batch(underwater_root, size=320)  # SSD's unpadded levels
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    log = model.train_step(raw, wrapper)
    assert torch.isfinite(log['det.loss_cls']) and log['det.loss_cls'] > 0
    model.eval()
    with torch.no_grad():
        samples = model.test_step(raw)
    assert all(len(s.pred_instances.bboxes) for s in samples)


def test_a_mask_branch_reads_its_level_at_the_features_stride(
        underwater_root):
    """CondInst's mask branch upsamples its level by mask_stride (8, P3's
    in its config): checked against the stride of its start_level, set
    from it with strides_from_features (the mask loss compared maps of
    different sizes before)."""
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'condinst/condinst_r50_fpn_ms-poly-90k_coco_'
        'instance.py')).model
    detector.bbox_head.strides = [4, 8, 16, 32, 64]  # the features' here
    with pytest.raises(ValueError, match=r'mask_feature_head.mask_stride '
                       r'\[8\] differ.*\[4\]'):
        build_model(detector)
    model = build_model(detector, strides_from_features=True)
    assert model.heads.det.detector.mask_head.mask_feat_stride == 4
    raw = raw_batch(underwater_root, masks=True)
    log = model.train_step(raw, OptimWrapper(torch.optim.SGD(
        model.parameters(), lr=1e-3)))
    assert torch.isfinite(log['det.loss_mask'])


@pytest.mark.parametrize('config, reason', [
    ('ld/ld_r18-gflv1-r101_fpn_1x_coco.py',
     r'distils from a teacher detector \(teacher_config'),
    ('misc/d2_faster-rcnn_r50-caffe_fpn_ms-90k_coco.py',
     'Detectron2Wrapper takes no backbone'),
    ('panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py',
     'is a panoptic segmentor .*predicts panoptic maps, not the boxes'),
    ('maskformer/maskformer_r50_ms-16xb1-75e_coco.py',
     'is a panoptic segmentor'),
], ids=['ld', 'detectron2', 'panoptic_fpn', 'maskformer'])
def test_detectors_that_need_more_than_features_and_boxes_are_refused(
        config, reason):
    """Refused when the model is built, saying why (before: a missing
    teacher config file, a TypeError from the wrapper, an AttributeError
    at the first iteration)."""
    detector = Config.fromfile(osp.join(MMDET_CONFIGS, config)).model
    with pytest.raises(ValueError, match=reason):
        build_model(detector, strides_from_features=True)


def test_torchvision_ops_asked_for_where_torchvision_is_missing_are_refused(
        monkeypatch):
    """CrowdDet's RoIAlign asks for torchvision's (use_torchvision=True):
    without torchvision the model is refused when built, naming the key
    (mmcv's ModuleNotFoundError at the first iteration before)."""
    monkeypatch.setitem(sys.modules, 'torchvision', None)  # not importable
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'crowddet/crowddet-rcnn_r50_fpn_8xb2-30e_crowdhuman.'
        'py')).model
    with pytest.raises(ValueError, match=r"its roi_layer asks for "
                       r"torchvision's ops \(use_torchvision=True\), and "
                       r'torchvision cannot be imported here.*set '
                       r'use_torchvision=False'):
        build_model(detector, strides_from_features=True)


def test_trident_detectors_that_read_their_backbone_are_refused():
    """TridentNet's detector reads its TridentResNet's branches: refused
    when built, naming the attribute (a refusal of its C4 shared head
    before; an AttributeError from mmdet once that is hosted)."""
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'tridentnet/tridentnet_r50-caffe_1x_coco.py')).model
    with pytest.raises(ValueError, match=r'TridentFasterRCNN reads its own '
                       r'backbone.*num_branch.*not hosted'):
        build_model(detector, strides_from_features=True)


def test_the_c4_shared_head_is_mmdets_stage_on_the_features_channels():
    """The C4 shared head built on the features' channels is mmdet's
    ResLayer where the channels are its backbone's (the same weights give
    the same output); it reads the RoI extractor's channels, which are
    the deepest level's without a neck."""
    from mmdet.models.roi_heads.shared_heads import ResLayer
    from mmsquad.models.heads.res_layer_on_features import \
        ResLayerOnFeatures
    settings = dict(depth=50, stage=3, style='caffe',
                    norm_cfg=dict(type='BN', requires_grad=False))
    theirs = ResLayer(**settings)
    ours = ResLayerOnFeatures(in_channels=1024, **settings)
    ours.load_state_dict(theirs.state_dict())
    theirs.eval(), ours.eval()  # (mmdet's train() returns None)
    x = torch.randn(2, 1024, 14, 14)
    torch.testing.assert_close(ours(x), theirs(x))
    model = build_model(bundled_detector('Faster R-CNN C4'),
                        strides_from_features=True)
    roi_head = model.heads.det.detector.roi_head
    deepest = model.heads.det.feature_channels[-1]
    assert roi_head.bbox_roi_extractor.out_channels == deepest
    assert roi_head.shared_head.layer4[0].conv1.in_channels == deepest
    assert roi_head.bbox_roi_extractor.featmap_strides == [
        model.heads.det.feature_strides[-1]]


def test_shared_heads_whose_channels_cannot_be_set_are_refused():
    """A shared head other than mmdet's ResLayer, and a neckless RoI
    extractor over levels of different channels, are refused by key."""
    detector = bundled_detector('Faster R-CNN C4')
    detector.roi_head.shared_head.type = 'SELayer'
    with pytest.raises(ValueError, match=r'roi_head.shared_head SELayer '
                       r'reads RoI features of channels fixed'):
        build_model(detector, strides_from_features=True)
    adapter = build_model(bundled_detector('Faster R-CNN C4'),
                          strides_from_features=True).heads.det
    adapter.levels = 3  # three levels of different channels
    roi_head = dict(bbox_roi_extractor=dict(featmap_strides=[2, 4, 8]))
    with pytest.raises(ValueError, match=r'roi_head.bbox_roi_extractor '
                       r'pools levels of \[.*\] channels'):
        adapter._roi_head_reads_features(roi_head, False, 'mmdet')
    roi_head = dict(  # a neck's levels, pooled to different channels
        bbox_roi_extractor=dict(featmap_strides=[8], out_channels=256),
        mask_roi_extractor=dict(featmap_strides=[8], out_channels=128),
        shared_head=dict(type='ResLayer', depth=50))
    with pytest.raises(ValueError, match=r'its RoI extractors give '
                       r'\[128, 256\] channels'):
        adapter._roi_head_reads_features(roi_head, True, 'mmdet')


def test_htc_trains_its_semantic_head_on_the_box_tasks_maps(
        underwater_root):
    """HTC's semantic head trains on mmdet's gt_sem_seg, loaded with the
    boxes and carried by the box task's samples (refused before); its
    seg_scale_factor follows the stride of its fusion level; samples
    without maps are an error naming the image and how to load them."""
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'htc/htc_r50_fpn_1x_coco.py')).model
    model = build_model(detector, strides_from_features=True)
    htc = model.heads.det.detector
    semantic = htc.roi_head.semantic_head
    strides = model.heads.det.feature_strides
    assert semantic.seg_scale_factor == 1 / strides[semantic.fusion_level]
    semantic.seg_scale_factor = 1 / 8  # its config's, for ResNet's P3
    with pytest.raises(ValueError, match=r'semantic_head.seg_scale_factor '
                       r'\(1 / stride\) \[8\] differ .* \[4\]'):
        model.heads.det._check_strides(  # the strides of the FPN's levels
            [s[0] for s in htc.rpn_head.prior_generator.strides])
    semantic.seg_scale_factor = 1 / strides[semantic.fusion_level]
    raw = raw_batch(underwater_root, masks=True, semantic=True)
    assert all('gt_sem_seg' in s for s in raw['data_samples'])
    data = model.data_preprocessor(copy.deepcopy(raw), True)
    losses = model(**data, mode='loss')
    # mmdet's own semantic loss on the same features and maps.
    feats = htc.neck(tuple(model.extract_feats(data['inputs'])['det'][
        -model.heads.det.levels:]))
    maps = torch.stack([s.gt_sem_seg.sem_seg for s in data['data_samples']])
    torch.testing.assert_close(losses['det.loss_semantic_seg'],
                               semantic.loss(semantic(feats)[0], maps))
    assert losses['det.loss_semantic_seg'] > 0
    with pytest.raises(ValueError, match=r'train_0000\d.jpg carries no '
                       r'gt_sem_seg: the detector\'s semantic_head trains on '
                       r'semantic maps; load them.*with_seg=True'):
        model.train_step(raw_batch(underwater_root, masks=True), OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=1e-3)))


def test_fast_rcnn_reads_the_proposals_its_data_carries(underwater_root):
    """Fast R-CNN (an RoI head, no RPN) hosted: the box task's samples
    carry mmdet's proposals, transformed with the image (refused before);
    its losses equal mmdet's own detector's on the same features and
    samples; a batch without boxes keeps every parameter in the graph;
    samples without proposals are an error naming the image."""
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'fast_rcnn/fast-rcnn_r50_fpn_1x_coco.py')).model
    keep_every_box(detector)
    model = build_model(detector, strides_from_features=True)
    raw = raw_batch(underwater_root, proposals=True)
    stored = mmengine.load(osp.join(underwater_root, 'proposals',
                                    'train.pkl'))
    for sample in raw['data_samples']:  # scaled, and flipped with the image
        path = sample.img_path
        boxes = stored[osp.join(osp.basename(osp.dirname(path)),
                                osp.basename(path))]['bboxes'] * 2
        if sample.flip:
            boxes[:, [0, 2]] = sample.img_shape[1] - boxes[:, [2, 0]]
        torch.testing.assert_close(sample.proposals.bboxes,
                                   torch.from_numpy(boxes))
    data = model.data_preprocessor(copy.deepcopy(raw), True)
    torch.manual_seed(0)  # the RoI sampler draws
    losses = model(**copy.deepcopy(data), mode='loss')
    feats = tuple(model.extract_feats(data['inputs'])['det'][
        -model.heads.det.levels:])
    torch.manual_seed(0)
    theirs = model.heads.det.detector.loss(feats, data['data_samples'])
    for key in ('loss_cls', 'loss_bbox', 'acc'):
        torch.testing.assert_close(losses[f'det.{key}'], theirs[key])
    model.eval()
    with torch.no_grad():
        samples = model.test_step(copy.deepcopy(raw))
    assert all(len(s.pred_instances.bboxes) for s in samples)
    model.train()
    data = model.data_preprocessor(copy.deepcopy(raw), True)
    for sample in data['data_samples']:
        del sample.gt_instances  # enhancement-only samples
    losses = model.loss(data['inputs'], data['data_samples'])
    assert all(float(v) == 0 for k, v in losses.items()
               if k.startswith('det.'))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert not [n for n, p in model.heads.det.named_parameters()
                if p.requires_grad and p.grad is None]
    with pytest.raises(ValueError, match=r"train_0000\d.jpg carries no "
                       r"proposals: the detector's roi_head reads proposals "
                       r"precomputed in the data \(it has no rpn_head\); "
                       r"load them with mmdet's LoadProposals"):
        model.train_step(raw_batch(underwater_root), OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=1e-3)))


def test_unclipped_mask_detectors_are_refused_where_masks_paste_on_cpu(
        underwater_root, monkeypatch):
    """QueryInst's boxes are not clipped to the image, and mmdet's CPU
    mask pasting fails on a box wholly outside it (at a prediction, in
    mmdet's own model too): refused on a CPU-only machine, naming the key;
    with clip_border=True, as the refusal advises, it trains and predicts
    on the CPU; where a GPU is, it builds."""
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'queryinst/queryinst_r50_fpn_1x_coco.py')).model
    detector.rpn_head.num_proposals = 20  # quick
    detector.test_cfg.rcnn.max_per_img = 20
    where = 'mmsquad.models.heads.detector_adapter.get_device'
    monkeypatch.setattr(where, lambda: 'cpu')
    with pytest.raises(ValueError, match=r'roi_head\.bbox_head\.0\.bbox_'
                       r'coder does not clip boxes to the image \(clip_border'
                       r'=False\).*no GPU: set clip_border=True'):
        build_model(copy.deepcopy(detector), strides_from_features=True)
    monkeypatch.setattr(where, lambda: 'cuda')
    build_model(copy.deepcopy(detector), strides_from_features=True)
    monkeypatch.setattr(where, lambda: 'cpu')
    for stage in detector.roi_head.bbox_head:
        stage.bbox_coder.clip_border = True
    keep_every_box(detector)
    model = build_model(detector, strides_from_features=True)
    raw = raw_batch(underwater_root, masks=True)
    log = model.train_step(raw, OptimWrapper(torch.optim.SGD(
        model.parameters(), lr=1e-3)))
    assert all(torch.isfinite(v) for v in log.values()), log
    model.eval()
    with torch.no_grad():
        samples = model.test_step(raw)
    assert all(len(s.pred_instances.masks) for s in samples)


def test_yolov3_gets_its_neck_channels_deepest_first(underwater_root):
    """YOLOv3's neck lists its in_channels deepest first (a convolution
    failed on the channel count when they came shallowest first); its
    head's featmap_strides follow the features' like its priors."""
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'yolo/yolov3_d53_8xb8-320-273e_coco.py')).model
    model = build_model(detector, strides_from_features=True)
    channels = model.heads.det.feature_channels
    yolo = model.heads.det.detector
    assert yolo.neck.detect1.conv1.conv.in_channels == channels[-1]
    assert list(yolo.bbox_head.featmap_strides) == [
        s[0] for s in yolo.bbox_head.prior_generator.strides] == [8, 4, 2]
    log = model.train_step(raw_batch(underwater_root), OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=1e-3)))
    assert all(torch.isfinite(v) for v in log.values())


def test_strides_are_checked_against_the_features():
    """mmdet's Faster R-CNN assumes ResNet strides 4 to 32 (the RPN's
    anchors 4 to 64); SquadNet's features are at 2, 4 and 8."""
    with pytest.raises(ValueError, match=r'detector.rpn_head.anchor_generator'
                       r'.strides \[4, 8, 16, 32, 64\] differ from the '
                       r'strides of the features it gets, \[2, 4, 8, 16, 32'
                       r'\].*strides_from_features=True'):
        build_model(bundled_detector('Faster R-CNN'))
    model = build_model(bundled_detector('Faster R-CNN'),
                        strides_from_features=True)
    detector = model.heads.det.detector
    assert detector.rpn_head.prior_generator.strides == [
        (2, 2), (4, 4), (8, 8), (16, 16), (32, 32)]
    assert detector.roi_head.bbox_roi_extractor.featmap_strides == [
        2, 4, 8, 16]
    assert detector.neck.in_channels == list(model.heads.det.feature_channels)
    assert detector.roi_head.bbox_head.num_classes == 4


def test_two_stage_detector_runs_contiguous_in_a_channels_last_model(
        underwater_root):
    """mmcv's RoIAlign reads channels-last maps as if they were contiguous
    (wrong values, no error): in a channels-last model its inputs must be
    contiguous."""
    model = build_model(bundled_detector('Faster R-CNN'),
                        strides_from_features=True).eval()
    assert model.channels_last and model.contiguous_tasks == ['det']
    layouts = []
    for module in model.heads.det.modules():
        if isinstance(module, RoIAlign):
            module.register_forward_pre_hook(
                lambda _, args: layouts.append(args[0].is_contiguous()))
    with torch.no_grad():
        model.test_step(raw_batch(underwater_root))
    assert layouts and all(layouts)
    # What would go wrong: the same RoIAlign on a channels-last map.
    x = torch.randn(1, 8, 20, 24)
    rois = torch.tensor([[0, 1., 2., 15., 10.]])
    align = RoIAlign((7, 7), 0.5, 0)
    assert not torch.allclose(
        align(x, rois),
        align(x.contiguous(memory_format=torch.channels_last), rois))


def test_detector_config_without_box_task_is_refused():
    with pytest.raises(TypeError, match='not a BoxTask'):
        MODELS.build(dict(type='DetectorAdapter', task='semseg',
                          detector=bundled_detector('Faster R-CNN')))


def test_prior_stride_arguments_are_found_in_what_a_head_takes():
    """RepPoints sets its priors from point_strides (strides_from_features
    refused it while asked to set them); GuidedAnchorHead takes approx_
    and square_anchor_generator but not AnchorHead's anchor_generator
    (its build failed on that keyword)."""
    from mmsquad.models.heads.dense_head_adapter import prior_stride_args
    reppoints = prior_stride_args(dict(_scope_='mmdet',
                                       type='RepPointsHead'))
    assert set(reppoints) == {'strides', 'point_strides'}
    guided = prior_stride_args(dict(_scope_='mmdet', type='GuidedAnchorHead'))
    assert set(guided) == {'approx_anchor_generator',
                           'square_anchor_generator'}
    assert guided['approx_anchor_generator']['type'] == 'AnchorGenerator'


def test_reppoints_takes_its_point_strides_from_the_features(
        underwater_root):
    detector = Config.fromfile(osp.join(
        MMDET_CONFIGS, 'reppoints/reppoints-bbox_r50_fpn-gn_head-gn-grid_'
        '1x_coco.py')).model
    model = build_model(detector, strides_from_features=True)
    head = model.heads.det.detector.bbox_head
    assert list(head.point_strides) == [
        s[0] for s in head.prior_generator.strides] == [4, 8, 16, 32, 64]
    log = model.train_step(raw_batch(underwater_root), OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=1e-3)))
    assert all(torch.isfinite(v) for v in log.values())
