"""A whole mmdet config inherited with an mmsquad model in it; package
config paths in the tools; mmengine's ``load_from`` and ``Pretrained``
initialisation on mmsquad models."""
import os.path as osp
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.runner import Runner

import mmdet
from conftest import REPO, TINY_CONFIG
from mmsquad.datasets.underwater_mt import DUO_CLASSES
from mmsquad.registry import MODELS
from mmsquad.utils import register_all_modules
from toolkit.tool_setup import fall_back_from_cuda_amp, read_config

INHERIT_MMDET = osp.join(REPO, 'tests', 'configs', 'inherit_mmdet.py')
RETINANET = 'retinanet/retinanet_r50_fpn_1x_coco.py'


@pytest.fixture
def mmdet_scope_restored():
    """A runner of an mmdet config makes mmdet the current default scope:
    make it mmsquad again afterwards, for the tests that follow."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        register_all_modules()


def test_whole_mmdet_config_trains_and_evaluates_an_mmsquad_model(
        underwater_root, tmp_path, mmdet_scope_restored):
    """mmdet's RetinaNet config (data, schedule, runtime, CocoMetric) with
    its model replaced by SquadNet-tiny hosting that RetinaNet as the det
    task."""
    cfg = Config.fromfile(INHERIT_MMDET)
    assert cfg.default_scope == 'mmdet'  # mmdet's config, inherited
    assert cfg.param_scheduler[1].milestones == [8, 11]  # mmdet's 1x
    det = cfg.model.heads.det
    det.num_classes = len(DUO_CLASSES)
    det.detector.test_cfg.score_thr = 0.0  # boxes from an untrained model
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'test')):
        cfg[loader].update(batch_size=2, num_workers=0,
                           persistent_workers=False)
        coco = cfg[loader].dataset.dataset  # mmdet's CocoDataset config
        coco.update(data_root=underwater_root,
                    ann_file=f'annotations/instances_{split}.json',
                    data_prefix=dict(img=f'images/{split}/'),
                    metainfo=dict(classes=DUO_CLASSES))
        for transform in coco.pipeline:
            if transform.type == 'Resize':
                transform.scale = (96, 96)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = osp.join(underwater_root, 'annotations',
                                          'instances_test.json')
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert torch.isfinite(torch.tensor(
        scalars['train/det.loss_cls'].current()))
    assert 0 <= scalars['val/coco/bbox_mAP'].current() <= 1
    assert type(runner.model.heads.det.detector).__name__ == 'RetinaNet'


def test_tools_read_configs_of_installed_packages():
    """``tools/train.py mmdet::<path>`` reads the installed mmdet's config,
    the file mmengine's ``get_config`` finds; a wrong path names the file
    it looked for."""
    cfg = read_config(f'mmdet::{RETINANET}')
    assert cfg.filename == osp.join(osp.dirname(mmdet.__file__), '.mim',
                                    'configs', RETINANET)
    assert cfg.model == get_config(f'mmdet::{RETINANET}').model
    with pytest.raises(FileNotFoundError, match='configs/retinanet/nope.py'):
        read_config('mmdet::retinanet/nope.py')


def tiny_model_cfg():
    return Config.fromfile(TINY_CONFIG).model


def test_pretrained_init_cfg_loads_a_backbone_checkpoint(tmp_path):
    """``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)`` on
    the backbone loads its part of a whole-model checkpoint."""
    torch.manual_seed(1)
    source = MODELS.build(tiny_model_cfg())
    path = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=source.state_dict()), path)
    cfg = tiny_model_cfg()
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=path,
                                 prefix='backbone.')
    torch.manual_seed(2)
    model = MODELS.build(cfg)
    model.init_weights()
    for key, value in source.backbone.state_dict().items():
        torch.testing.assert_close(model.backbone.state_dict()[key], value)
    # The heads were initialised, not loaded.
    assert not torch.equal(model.heads.semseg.conv_out.weight,
                           source.heads.semseg.conv_out.weight)


def test_load_from_starts_training_from_a_checkpoint(demo_root, tmp_path):
    """mmengine's ``load_from``: a run starts from another run's weights
    (through mmsquad's safe checkpoint loading)."""
    def runner(work_dir: str, **changes) -> Runner:
        cfg = Config.fromfile(TINY_CONFIG)
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            cfg[loader].dataset.data_root = demo_root
        cfg.train_cfg.update(max_epochs=1, val_interval=1)
        cfg.work_dir = work_dir
        cfg.update(changes)
        fall_back_from_cuda_amp(cfg)
        return Runner.from_cfg(cfg)

    first = runner(str(tmp_path / 'first'))
    first.train()
    checkpoint = osp.join(str(tmp_path / 'first'), 'epoch_1.pth')
    second = runner(str(tmp_path / 'second'), load_from=checkpoint)
    second.load_or_resume()
    saved = torch.load(checkpoint, map_location='cpu',  # the test's own
                       weights_only=False)['state_dict']
    loaded = second.model.state_dict()
    assert saved.keys() == loaded.keys()
    for key, value in saved.items():
        torch.testing.assert_close(loaded[key], value)
    assert second.iter == 0  # loaded, not resumed
