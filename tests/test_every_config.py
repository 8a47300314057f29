"""Every shipped config trains one iteration and predicts, through the
runner, on images of odd and mixed sizes (97x131 and 120x80 in a batch)."""
import glob
import json
import os
import os.path as osp
import uuid

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from toolkit.synthetic import (make_coco_detection, make_nyud_mt,
                                        make_pascal_context_59,
                                        make_pascal_mt_demo,
                                        make_underwater_demo)
from toolkit.tool_setup import fall_back_from_cuda_amp

SIZES = [(97, 131), (120, 80)]
CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in p)


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    """PASCAL_MT, NYUD_MT, mmseg's PASCAL-Context-59, COCO, underwater
    (DUO + references) and UIEB layouts, two train and two val/test images
    each, of the mixed sizes."""
    base = tmp_path_factory.mktemp('odd_sizes')
    pascal = str(base / 'PASCAL_MT')
    make_pascal_mt_demo(pascal, num_train=2, num_val=2, size=SIZES, seed=3)
    return dict(pascal=pascal, nyud=make_nyud_mt(str(base / 'NYUD_MT'), SIZES),
                coco=make_coco_detection(str(base / 'coco'), SIZES, seed=3),
                pascal_context_59=make_pascal_context_59(
                    str(base / 'VOC2010'), SIZES, seed=3),
                underwater=_underwater(base / 'underwater'),
                uieb=_uieb(base / 'underwater', base / 'UIEB'))


def _underwater(root):
    """The underwater demo rendered at 131x131, each image and reference
    cropped to its size, the boxes clipped to it."""
    make_underwater_demo(str(root), num_train=2, num_test=2, size=131,
                         seed=3)
    for split in ('train', 'test'):
        ann_path = root / 'annotations' / f'instances_{split}.json'
        ann = json.loads(ann_path.read_text())
        for image, (h, w) in zip(ann['images'], SIZES):
            for sub in ('images', 'reference'):
                path = str(root / sub / split / image['file_name'])
                cv2.imwrite(path, cv2.imread(path)[:h, :w])
            image.update(height=h, width=w)
        size_of = {im['id']: (im['height'], im['width'])
                   for im in ann['images']}
        kept = []
        for box in ann['annotations']:
            h, w = size_of[box['image_id']]
            x0, y0, bw, bh = box['bbox']
            x1, y1 = min(x0 + bw, w), min(y0 + bh, h)
            if x1 - x0 > 2 and y1 - y0 > 2:
                box.update(bbox=[x0, y0, x1 - x0, y1 - y0],
                           area=(x1 - x0) * (y1 - y0))
                kept.append(box)
        ann['annotations'] = kept
        ann_path.write_text(json.dumps(ann))
    return str(root)


def _uieb(underwater, root):
    """UIEB layout (raw/ + reference/) from the underwater test pairs."""
    for sub, source in (('raw', 'images'), ('reference', 'reference')):
        os.makedirs(root / sub)
        for path in glob.glob(str(underwater / source / 'test' / '*.jpg')):
            os.link(path, root / sub / osp.basename(path))
    return str(root)


def _shrink_sizes(node, max_side=160):
    """Scale every resize and crop size above ``max_side`` down to it
    (keeping its aspect), for time: the configs' 512x512 crops take up to a
    minute an iteration here, and one SquadNet-small iteration at the
    underwater configs' 1333x800 needs more than this machine's 24 GB."""
    if isinstance(node, dict):
        for key in ('scale', 'crop_size'):
            size = node.get(key)
            if isinstance(size, (tuple, list)) and max(size) > max_side:
                node[key] = tuple(round(s * max_side / max(size))
                                  for s in size)
        for value in node.values():
            _shrink_sizes(value, max_side)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _shrink_sizes(value, max_side)


#: The generated root of each dataset type the configs read.
ROOT_OF = {'PascalContextMTDataset': 'pascal', 'NYUDv2MTDataset': 'nyud',
           'PascalContextDataset59': 'pascal_context_59',
           'CocoDataset': 'coco', 'UnderwaterMTDataset': 'underwater',
           'EnhancementPairDataset': 'uieb'}
#: The dataset types whose ``ann_file`` has the boxes a COCO metric scores.
BOX_DATASETS = ('CocoDataset', 'UnderwaterMTDataset')


def _point_at_data(cfg, roots):
    """Data roots (by dataset type), batch 2 (or one sample of each source)
    without workers, one epoch (or iteration), sizes shrunk, no periodic
    checkpoint."""
    sampler = cfg.train_dataloader.get('sampler', {})
    # One sample of each source in a multi-source batch.
    batch_size = max(2, len(sampler.get('source_ratio', [])))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=batch_size, num_workers=0,
                           persistent_workers=False)
        dataset = cfg[loader].dataset
        _shrink_sizes(dataset)
        for part in dataset.get('datasets', [dataset]):
            if part.type == 'TaskDataset':  # another package's dataset
                part = part.dataset
            part.data_root = roots[ROOT_OF[part.type]]
            if part.type in BOX_DATASETS and loader == 'val_dataloader':
                boxes = osp.join(part.data_root, part.ann_file)
    if 'batch_size' in sampler:
        sampler.batch_size = batch_size
    for evaluator in ('val_evaluator', 'test_evaluator'):
        metrics = cfg[evaluator]
        for metric in metrics if isinstance(metrics, list) else [metrics]:
            if 'ann_file' in metric:  # the val set's boxes
                metric.ann_file = boxes
    fall_back_from_cuda_amp(cfg)  # as tools/train.py does
    if 'IterBased' in cfg.train_cfg.get('type', ''):
        cfg.train_cfg.update(max_iters=1, val_interval=1)
    else:
        cfg.train_cfg.update(max_epochs=1, val_interval=1)
    # Only the best checkpoint (the config's save_best rule applied to its
    # metrics): periodic saves are tested elsewhere and take most of the
    # time of the large models here.
    cfg.default_hooks.checkpoint.update(interval=2, save_last=False)


@pytest.mark.parametrize('path', CONFIGS)
def test_config_trains_and_predicts_on_odd_sizes(path, roots, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, path))
    _point_at_data(cfg, roots)
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'odd_{uuid.uuid4().hex}'
    cfg.visualizer.name = cfg.experiment_name
    runner = Runner.from_cfg(cfg)
    runner.train()
    # One iteration trained, and the validation predicted every image.
    assert runner.iter == 1
    scalars = runner.message_hub.log_scalars
    assert np.isfinite(scalars['train/loss'].current())
    assert any(key.startswith('val/') and 'time' not in key
               for key in scalars), sorted(scalars)
