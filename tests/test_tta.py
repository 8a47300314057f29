"""Test-time augmentation: views merged as each task kind defines."""
import copy
import glob
import os.path as osp

import mmcv
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData, LabelData
from torch import nn

from conftest import (REPO, TINY_CONFIG, UNDERWATER_DEMO_CONFIG,
                      reference_outputs)
from mmsquad.apis import init_model
from mmsquad.models import MultiTaskTTAModel
from mmsquad.registry import DATASETS, MODELS, TASKS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, BoxTask, ImageLabelTask, LabelMapTask
from test_tools import tool
from toolkit.tool_setup import use_tta, views_missing_the_test_transforms

LOAD = dict(type='LoadImageFromFile', color_type='color_ignore_orientation')
ANNOTATIONS = dict(type='LoadMultiTaskAnnotations')
PACK = dict(type='PackMultiTaskInputs')


def _dataset(root, pipeline):
    cfg = copy.deepcopy(Config.fromfile(TINY_CONFIG).test_dataloader.dataset)
    cfg.update(data_root=root, pipeline=pipeline)
    return DATASETS.build(cfg)


def _views(*transforms):
    """A TTA pipeline: one view per transform (None: the image as it
    is), targets loaded after."""
    return [LOAD, dict(type='TestTimeAug', transforms=[
        [t or dict(type='MultiTaskRandomFlip', prob=0.) for t in transforms],
        [ANNOTATIONS], [PACK]])]


def _tta_predictions(model, dataset):
    tta = MultiTaskTTAModel(module=model)
    with torch.no_grad():
        return tta.test_step(pseudo_collate([dataset[i]
                                             for i in range(len(dataset))]))


def _with_varied_labels(model):
    """The tiny checkpoint's label heads predict one class everywhere;
    larger, unbiased output weights make the argmax vary over the image,
    so that label-map comparisons mean something."""
    with torch.no_grad():
        for task in ('semseg', 'human_parts'):
            model.heads[task].conv_out.weight.mul_(30)
            model.heads[task].conv_out.bias.zero_()
        logits = model(torch.randn(1, 3, 32, 32), mode='tensor')
    assert logits['semseg'].argmax(1).unique().numel() > 1
    return model


@pytest.fixture(scope='module')
def model(tiny_checkpoint):
    return _with_varied_labels(init_model(TINY_CONFIG, tiny_checkpoint))


@pytest.mark.parametrize('upsample', ['labels', 'scores'])
def test_one_view_equals_the_plain_prediction(tiny_checkpoint, demo_root,
                                              upsample):
    """The network at another size than the image (40x24 for 32x32): one
    view merged is the plain test's prediction, in both upsampling modes
    of label maps."""
    semseg = dict(name='semseg', type='LabelMapTask', num_classes=21,
                  background=0, upsample=upsample)
    model = _with_varied_labels(init_model(
        TINY_CONFIG, tiny_checkpoint, cfg_options={
            'model.tasks': [semseg, 'human_parts', 'sal', 'normals']}))
    resize = dict(type='MultiTaskResize', scale=(40, 24))
    plain = _dataset(demo_root, [LOAD, resize, ANNOTATIONS, PACK])
    with torch.no_grad():
        expected = model.test_step(pseudo_collate(
            [plain[i] for i in range(len(plain))]))
    merged = _tta_predictions(model, _dataset(demo_root, _views(resize)))
    for got, want in zip(merged, expected):
        assert got.img_path == want.img_path
        assert 'view_outputs' not in got
        assert torch.equal(got.pred_semseg.data, want.pred_semseg.data)
        assert torch.equal(got.pred_human_parts.data,
                           want.pred_human_parts.data)
        for task in ('sal', 'normals'):
            torch.testing.assert_close(got.get(f'pred_{task}').data,
                                       want.get(f'pred_{task}').data)
        assert torch.equal(got.gt_semseg.data, want.gt_semseg.data)


@pytest.mark.parametrize('targets_first', [False, True])
def test_flipped_views_merge_as_a_plain_loop_computes(model, demo_root,
                                                      targets_first):
    """The image and its mirror: a step-by-step reference from the
    model's tensor mode mirrors the second view's outputs back, negates
    the normals' x, averages, then takes the argmax / normalises. With the
    targets loaded before the flips and the mirror first, the merged
    sample still carries the unflipped targets."""
    flips = [dict(type='MultiTaskRandomFlip', prob=p) for p in (0., 1.)]
    if targets_first:
        pipeline = [LOAD, ANNOTATIONS, dict(
            type='TestTimeAug', transforms=[flips[::-1], [PACK]])]
    else:
        pipeline = _views(*flips)
    merged = _tta_predictions(model, _dataset(demo_root, pipeline))
    targets = _dataset(demo_root, [LOAD, ANNOTATIONS, PACK])
    for index, sample in enumerate(merged):
        assert torch.equal(
            sample.gt_normals.data,
            targets[index]['data_samples'].gt_normals.data)
        bgr = mmcv.imread(sample.img_path)
        plain = reference_outputs(model, bgr[None])
        mirror = reference_outputs(model, bgr[None, :, ::-1].copy())
        mirror = {task: value.flip(-1) for task, value in mirror.items()}
        mirror['normals'][:, 0] *= -1
        mean = {task: (plain[task] + mirror[task])[0] / 2 for task in plain}
        assert torch.equal(sample.pred_semseg.data[0],
                           mean['semseg'].argmax(0))
        assert torch.equal(sample.pred_human_parts.data[0],
                           mean['human_parts'].argmax(0))
        torch.testing.assert_close(sample.pred_sal.data, mean['sal'],
                                   atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(sample.pred_normals.data,
                                   F.normalize(mean['normals'], dim=0),
                                   atol=1e-5, rtol=1e-4)
        # A mirror changes the prediction: the test would see a missing
        # unflip.
        assert not torch.allclose(plain['normals'], mirror['normals'],
                                  atol=1e-3)


class _Module(nn.Module):
    """What BaseTTAModel wraps: anything with a test step."""

    def __init__(self, tasks=None):
        super().__init__()
        self.tasks = tasks

    def test_step(self, data):
        return data


def test_boxes_merge_as_mmdet_det_tta_model():
    from mmdet.models.test_time_augs import DetTTAModel
    from mmdet.structures import DetDataSample
    generator = torch.Generator().manual_seed(0)
    views, metainfos = [], []
    for flip in (False, True):
        corners = torch.rand(40, 2, 2, generator=generator) * 60
        boxes = torch.cat([corners.min(1).values, corners.max(1).values], 1)
        views.append(InstanceData(
            bboxes=boxes, scores=torch.rand(40, generator=generator),
            labels=torch.randint(0, 3, (40, ), generator=generator)))
        metainfos.append(dict(ori_shape=(50, 64), flip=flip,
                              flip_direction='horizontal' if flip else None))
    tta_cfg = dict(nms=dict(type='nms', iou_threshold=0.4), max_per_img=30)
    got = BoxTask(name='det').merge_views(views, metainfos, tta_cfg)

    reference = DetTTAModel(module=_Module(), tta_cfg=ConfigDict(tta_cfg))
    samples = []
    for view, meta in zip(views, metainfos):
        sample = DetDataSample(metainfo=meta)
        sample.pred_instances = view.clone()
        samples.append(sample)
    want = reference._merge_single_sample(samples).pred_instances
    assert len(got) == len(want) == 30
    for key in ('bboxes', 'scores', 'labels'):
        assert torch.equal(got[key], want[key])


def test_image_labels_average_their_probabilities():
    task = ImageLabelTask(num_classes=3, name='scene')
    views = [LabelData(score=torch.tensor([0.5, 0.4, 0.1])),
             LabelData(score=torch.tensor([0.1, 0.5, 0.4]))]
    merged = task.merge_views(views, [dict(flip=False), dict(flip=True)])
    assert merged.label.tolist() == [1]
    torch.testing.assert_close(merged.score, torch.tensor([0.3, 0.45, 0.25]))


def test_every_shipped_task_kind_merges_its_views():
    kinds = [TASKS.get(name) for name in TASKS.module_dict]
    assert LabelMapTask in kinds and BoxTask in kinds
    assert [k.__name__ for k in kinds
            if k.merge_views is BaseTask.merge_views] == []


def test_a_view_that_crops_is_refused(model, demo_root):
    dataset = _dataset(demo_root, _views(
        None, dict(type='MultiTaskRandomCrop', crop_size=(16, 24))))
    with pytest.raises(ValueError, match='a test-time view of 16x24 pixels '
                       'is not the 32x32 image resized'):
        _tta_predictions(model, dataset)


def test_a_kind_without_a_merge_or_a_vertical_flip_is_refused():
    class Unmergeable(ImageLabelTask):
        merge_views = BaseTask.merge_views

    tasks = dict(scene=Unmergeable(num_classes=2, name='scene'))
    with pytest.raises(ValueError, match=r'scene \(Unmergeable\)'):
        MultiTaskTTAModel(module=_Module(tasks))
    with pytest.raises(TypeError, match='multi-task model'):
        MultiTaskTTAModel(module=_Module())
    task = LabelMapTask(num_classes=2, name='semseg')
    with pytest.raises(ValueError, match="flip_direction 'vertical'"):
        task.merge_views([torch.rand(2, 4, 4)], [dict(
            flip=True, flip_direction='vertical', img_path='a.jpg')])


def test_a_hosted_mmseg_head_merges_its_views():
    """A head nobody named in the shipped configs: mmseg's PSPHead from
    its own bundled config, hosted for semseg beside the normals. One view
    merged is the plain prediction; the image and its mirror give the
    mean of the two plain predictions' scores, mirrored back."""
    from test_hosted_decode_heads import BACKBONE, bundled_head
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskModel', tasks=['semseg', 'normals'],
        backbone=BACKBONE, heads=dict(
            semseg=dict(type='DecodeHeadAdapter', head=bundled_head(
                'pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py')),
            normals=dict(type='ASPPTaskHead', channels=16)))).eval()
    image = torch.randint(0, 256, (3, 40, 56), dtype=torch.uint8)

    def view(flip):
        return MultiTaskDataSample(metainfo=dict(
            img_shape=(40, 56), ori_shape=(40, 56), flip=flip,
            flip_direction='horizontal' if flip else None))

    tta = MultiTaskTTAModel(module=model)
    with torch.no_grad():
        plain = model.test_step(dict(inputs=[image],
                                     data_samples=[view(False)]))[0]
        one = tta.test_step(dict(inputs=[[image]],
                                 data_samples=[[view(False)]]))[0]
        both = tta.test_step(dict(inputs=[[image], [image.flip(-1)]],
                                  data_samples=[[view(False)],
                                                [view(True)]]))[0]
        # The reference: logits upsampled to the padded input as the
        # head does, softmax, padding cropped, the mirror mirrored back.
        probabilities = []
        for x in (image, image.flip(-1)):
            inputs = model.data_preprocessor(dict(
                inputs=[x], data_samples=[view(False)]), False)['inputs']
            logits = F.interpolate(
                model(inputs, mode='tensor')['semseg'], inputs.shape[-2:],
                mode='bilinear',
                align_corners=model.heads.semseg.align_corners)
            probabilities.append(logits.softmax(1)[0, :, :40, :56])
    assert torch.equal(one.pred_semseg.data, plain.pred_semseg.data)
    torch.testing.assert_close(one.pred_normals.data,
                               plain.pred_normals.data)
    mean = (probabilities[0] + probabilities[1].flip(-1)) / 2
    assert torch.equal(both.pred_semseg.data[0], mean.argmax(0))
    assert not torch.equal(both.pred_semseg.data, plain.pred_semseg.data)


def test_test_py_tta_runs_through_the_hooks(tiny_checkpoint, demo_root,
                                            tmp_path):
    """The config's six views (three sizes, each mirrored) through
    test.py: the checkpoint check, the task agreement check and the
    panels see through the wrapper."""
    result = tool('test.py', TINY_CONFIG, tiny_checkpoint, '--tta',
                  '--work-dir', str(tmp_path), '--show-dir', 'panels',
                  '--cfg-options',
                  f'test_dataloader.dataset.data_root={demo_root}')
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'semseg/mIoU' in log and 'normals/mean' in log
    assert len(list(tmp_path.glob('*/panels/*.png'))) == 4


def test_test_py_tta_runs_boxes_and_enhancement(underwater_root, tmp_path):
    """The underwater demo's views (mmdet's flips) through test.py:
    boxes and enhanced images merged, both metrics reported."""
    from mmengine.runner import save_checkpoint
    checkpoint = str(tmp_path / 'underwater.pth')
    save_checkpoint(dict(state_dict=init_model(
        UNDERWATER_DEMO_CONFIG).state_dict(), meta={}), checkpoint)
    result = tool('test.py', UNDERWATER_DEMO_CONFIG, checkpoint, '--tta',
                  '--work-dir', str(tmp_path), '--cfg-options',
                  f'test_dataloader.dataset.data_root={underwater_root}/',
                  'test_evaluator.0.ann_file='
                  f'{underwater_root}/annotations/instances_test.json')
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'coco/bbox_mAP' in log and 'enhance/psnr' in log


def _config(path, **changes):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(changes)
    return cfg


def test_use_tta_refuses_what_it_cannot_test(tiny_checkpoint):
    with pytest.raises(KeyError, match='needs tta_model and tta_pipeline'):
        use_tta(_config(TINY_CONFIG, tta_model=None, tta_pipeline=None),
                'my.py')
    with pytest.raises(ValueError, match="'SegTTAModel'; a multi-task"):
        use_tta(_config(TINY_CONFIG, tta_model=dict(type='SegTTAModel')),
                'my.py')
    wrapped = _config(TINY_CONFIG)
    wrapped.test_dataloader.dataset = dict(
        type='ConcatDataset', datasets=[wrapped.test_dataloader.dataset])
    with pytest.raises(ValueError, match=r'\(ConcatDataset\) has no '
                       'pipeline of its own'):
        use_tta(wrapped, 'my.py')
    result = tool('test.py', 'configs/mmseg_data/squad_pascal_context_59.py',
                  tiny_checkpoint, '--tta')
    assert result.returncode != 0
    assert 'needs tta_model in configs/mmseg_data' in result.stderr


def test_a_test_size_no_view_applies_is_found():
    """demo.py restates its views at its test size; a test size changed
    alone would leave them at another."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'squad', 'demo.py'))
    test = cfg.test_dataloader.dataset.pipeline
    assert views_missing_the_test_transforms(test, cfg.tta_pipeline) == []
    test[1] = dict(test[1], scale=(128, 128))
    assert views_missing_the_test_transforms(
        test, cfg.tta_pipeline) == [test[1]]


TTA_CONFIGS = sorted(
    osp.relpath(path, REPO) for path in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in path and
    Config.fromfile(path).get('tta_pipeline') is not None and
    Config.fromfile(path).get('tta_model') is not None)


def test_the_shipped_configs_with_views():
    assert 'configs/squad/pascal_ctx.py' in TTA_CONFIGS
    assert 'configs/squad/nyud.py' in TTA_CONFIGS
    assert 'configs/squad/underwater.py' in TTA_CONFIGS


@pytest.mark.parametrize('path', TTA_CONFIGS)
def test_shipped_views_include_the_test_size(path):
    """Each config's views are made at its own test size (a config that
    restates its test pipeline restates its views)."""
    cfg = Config.fromfile(osp.join(REPO, path))
    assert views_missing_the_test_transforms(
        cfg.test_dataloader.dataset.pipeline, cfg.tta_pipeline) == []
    use_tta(cfg, path)
    assert cfg.model.type == 'MultiTaskTTAModel'
