"""The underwater job through the command-line tools, and its panels."""
import glob
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData

import mmdet
from conftest import REPO, UNDERWATER_DEMO_CONFIG
from mmsquad.registry import VISUALIZERS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import build_tasks
from mmsquad.visualization.multitask_visualizer import LINE


def tool(name, *args):
    return subprocess.run([sys.executable, osp.join('tools', name), *args],
                          cwd=REPO, capture_output=True, text=True,
                          timeout=900)


def data_options(underwater_root):
    """``--cfg-options`` values pointing every loader and evaluator of the
    underwater demo config at ``underwater_root``."""
    root = underwater_root + '/'
    ann = root + 'annotations/instances_test.json'
    return [f'{k}.dataset.data_root={root}' for k in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        f'val_evaluator.0.ann_file={ann}', f'test_evaluator.0.ann_file={ann}']


def test_train_then_test_with_coco_and_enhancement_metrics(underwater_root,
                                                           tmp_path):
    work_dir = str(tmp_path / 'work')
    options = [
        '--cfg-options', *data_options(underwater_root),
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        # After one epoch no score passes the default threshold: the
        # metric must still report, and save_best still find its key.
        'default_hooks.checkpoint.save_best=coco/bbox_mAP',
        'default_hooks.checkpoint.rule=greater']
    train = tool('train.py', UNDERWATER_DEMO_CONFIG, '--work-dir', work_dir,
                 *options)
    assert train.returncode == 0, train.stderr[-3000:]
    assert osp.exists(osp.join(work_dir, 'best_coco_bbox_mAP_epoch_1.pth'))
    test = tool('test.py', UNDERWATER_DEMO_CONFIG,
                osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir,
                '--show-dir', 'panels', *options)
    assert test.returncode == 0, test.stderr[-3000:]
    line = [ln for ln in (test.stdout + test.stderr).splitlines()
            if 'Epoch(test)' in ln][-1]
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'enhance/psnr',
                'enhance/ssim', 'enhance/uiqm', 'enhance/uciqe'):
        assert re.search(re.escape(key) + r': -?[0-9.]+', line), key
    panels = glob.glob(osp.join(work_dir, '*', 'panels', '*.png'))
    assert len(panels) == 4
    panel = cv2.imread(panels[0])
    # Input | det gt over det pred | reference over enhanced image: square
    # pictures under caption strips.
    assert panel.shape[1] == 3 * (panel.shape[0] // 2 - LINE)


def test_panel_draws_boxes_and_the_enhanced_image():
    visualizer = VISUALIZERS.build(dict(type='MultiTaskVisualizer',
                                        name='underwater_panel',
                                        tile_size=(64, 64)))
    visualizer.dataset_meta = dict(classes=('holothurian', 'echinus',
                                            'scallop', 'starfish'))
    image = np.full((64, 64, 3), 128, np.uint8)
    sample = MultiTaskDataSample()
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 10., 40., 40.]]),
        labels=torch.tensor([3]))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[12., 12., 42., 42.], [0., 0., 5., 5.]]),
        labels=torch.tensor([3, 0]), scores=torch.tensor([0.9, 0.1]))
    sample.set_target('enhance', PixelData(data=torch.zeros(3, 64, 64)))
    sample.pred_enhance = PixelData(data=torch.ones(3, 64, 64))
    panel = visualizer.make_panel(image, sample,
                                  build_tasks(['det', 'enhance']))
    # Two rows of 64-pixel pictures under their caption strips.
    assert panel.shape == (2 * (LINE + 64), 192, 3)
    gt_tile = panel[LINE:LINE + 64, 64:128]
    pred_tile = panel[2 * LINE + 64:, 64:128]
    # Box outlines change pixels on the box's border only.
    assert (gt_tile[10, 10:40] != 128).any(axis=-1).all()
    assert (pred_tile[12, 12:42] != 128).any(axis=-1).all()
    # The low-score prediction is not drawn.
    assert (pred_tile[2, 2] == 128).all()
    ref_tile = panel[LINE:LINE + 64, 128:]
    enhanced_tile = panel[2 * LINE + 64:, 128:]
    assert (ref_tile == 0).all() and (enhanced_tile == 255).all()


def test_a_config_mixes_mmdets_schedule_with_mmsquads_parts():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'squad',
                                   'underwater_mmdet_1x.py'))
    assert cfg.optim_wrapper.optimizer.type == 'SGD'  # from mmdet's 1x
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.param_scheduler[1].milestones == [8, 11]
    assert cfg.model.type == 'MultiTaskModel'


def test_inferencer_returns_boxes_and_the_enhanced_image(underwater_root,
                                                         tmp_path):
    from mmsquad.apis import MultiTaskInferencer
    inferencer = MultiTaskInferencer(UNDERWATER_DEMO_CONFIG, device='cpu')
    images = sorted(glob.glob(osp.join(underwater_root, 'images', 'test',
                                       '*.jpg')))[:2]
    out_dir = str(tmp_path / 'out')
    result = inferencer(images, out_dir=out_dir)
    for prediction in result['predictions']:
        det = prediction['det']
        assert det['bboxes'].shape[1] == 4
        assert len(det['bboxes']) == len(det['scores']) == len(det['labels'])
        assert prediction['enhance'].shape == (64, 64, 3)
        assert prediction['enhance'].dtype == np.uint8
    stem = osp.splitext(osp.basename(images[0]))[0]
    for name in (f'preds/{stem}_det.json', f'preds/{stem}_enhance.png',
                 f'vis/{stem}.png', f'vis/{stem}_det.png',
                 f'vis/{stem}_enhance.png'):
        assert osp.isfile(osp.join(out_dir, name)), name


def hosting(config: str) -> Config:
    """The underwater demo config (SquadNet-tiny) with the detector of
    mmdet's bundled ``config`` as its det task."""
    cfg = Config.fromfile(UNDERWATER_DEMO_CONFIG)
    cfg.model.backbone.arch = 'tiny'
    cfg.model.heads.det = dict(
        type='DetectorAdapter', num_classes=4, strides_from_features=True,
        detector=Config.fromfile(osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'configs', config)).model)
    return cfg


def stops_before_training(cfg: Config, underwater_root: str,
                          tmp_path) -> str:
    """The log of train.py on ``cfg`` (over the demo data), which must fail
    before its first training iteration."""
    path = str(tmp_path / 'hosted.py')
    cfg.dump(path)
    run = tool('train.py', path, '--work-dir', str(tmp_path / 'w'),
               '--cfg-options', *data_options(underwater_root))
    log = run.stdout + run.stderr
    assert run.returncode != 0 and 'Epoch(train)' not in log, log[-3000:]
    return log


def test_htc_without_semantic_maps_stops_before_the_first_iteration(
        underwater_root, tmp_path):
    """HTC hosted as the det task needs semantic maps its data does not
    load: train.py stops before training, naming the image, the field and
    how to load it (the first step failed before)."""
    log = stops_before_training(hosting('htc/htc_r50_fpn_1x_coco.py'),
                                underwater_root, tmp_path)
    assert re.search(r"train_dataloader: \S+train_0000\d\.jpg \(task 'det'\) "
                     r"carries no gt_sem_seg: the detector's semantic_head "
                     r'trains on semantic maps; load them with mmdet\'s '
                     r'LoadAnnotations\(with_seg=True\)', log), log[-3000:]


def test_fast_rcnn_without_validation_proposals_stops_before_training(
        underwater_root, tmp_path):
    """Fast R-CNN hosted as the det task, with proposals loaded for
    training but not for validation: train.py stops before the first
    training iteration (not at the first validation, after an epoch),
    naming the loader, the image and how to load them."""
    cfg = hosting('fast_rcnn/fast-rcnn_r50_fpn_1x_coco.py')
    train = cfg.train_dataloader.dataset
    train.proposal_file = 'proposals/train.pkl'
    train.pipeline = [dict(type='mmdet.ProposalBroadcaster', transforms=[s])
                      if s['type'] == 'WithReference' else s
                      for s in train.pipeline]
    train.pipeline.insert(1, dict(type='mmdet.LoadProposals'))
    log = stops_before_training(cfg, underwater_root, tmp_path)
    assert re.search(r"val_dataloader: \S+test_0000\d\.jpg \(task 'det'\) "
                     r"carries no proposals: the detector's roi_head reads "
                     r"proposals precomputed in the data", log), log[-3000:]
