"""mmcv layers without a CPU kernel: the table against the installed mmcv,
and models holding one refused when built where no accelerator is."""
import os.path as osp

import mmcv
import pytest
import torch
from mmcv.ops import CARAFEPack, DeformRoIPoolPack, MaskedConv2d, RoIPool
from mmengine.config import Config
from torch import nn

import mmdet
from conftest import UNDERWATER_DEMO_CONFIG
from mmsquad.models.utils.device_kernels import (ACCELERATOR_ONLY,
                                                 refuse_accelerator_only)
from mmsquad.registry import MODELS

MMCV_KERNELS = osp.join(osp.dirname(mmcv.__file__), 'ops', 'csrc', 'pytorch')
MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


@pytest.mark.parametrize('op', sorted(set(ACCELERATOR_ONLY.values())))
def test_every_listed_op_has_kernels_but_none_for_the_cpu(op):
    """The installed mmcv's sources hold the op and no CPU kernel of it."""
    assert osp.isfile(osp.join(MMCV_KERNELS, f'{op}.cpp')), op
    assert not osp.exists(osp.join(MMCV_KERNELS, 'cpu', f'{op}.cpp')), op


def test_the_check_on_sources_tells_an_op_with_a_cpu_kernel():
    """RoIAlign, which runs on the CPU, has its CPU kernel where the test
    above looks (so that test can fail)."""
    assert osp.isfile(osp.join(MMCV_KERNELS, 'cpu', 'roi_align.cpp'))


@pytest.mark.parametrize('layer, inputs', [
    (lambda: CARAFEPack(4, scale_factor=2), lambda: (torch.rand(1, 4, 4, 4),)),
    (lambda: MaskedConv2d(4, 4, 3, padding=1),
     lambda: (torch.rand(1, 4, 4, 4), torch.ones(1, 4, 4))),
    (lambda: RoIPool(2, 1.0),
     lambda: (torch.rand(1, 4, 4, 4), torch.tensor([[0., 0., 0., 3., 3.]]))),
], ids=['CARAFEPack', 'MaskedConv2d', 'RoIPool'])
def test_listed_layers_fail_on_the_cpu(layer, inputs):
    """What the refusal prevents: mmcv's error at the first forward."""
    with pytest.raises(RuntimeError, match='implementation for device cpu '
                       'not found'):
        layer()(*inputs())


def test_subclasses_are_found_and_an_accelerator_lets_them_pass():
    model = nn.Sequential(nn.Conv2d(4, 4, 1), DeformRoIPoolPack(2, 4))
    with pytest.raises(ValueError, match=r"^1 \(DeformRoIPoolPack\) runs "
                       r"mmcv's deform_roi_pool op"):
        refuse_accelerator_only(model, 'cpu')
    refuse_accelerator_only(model, 'cuda')
    refuse_accelerator_only(nn.Sequential(nn.Conv2d(4, 4, 1)), 'cpu')


def hosted(config: str) -> dict:
    """The underwater demo model (SquadNet-tiny) config with the detector
    of mmdet's bundled ``config`` as its det task."""
    cfg = Config.fromfile(UNDERWATER_DEMO_CONFIG)
    cfg.model.backbone.arch = 'tiny'
    cfg.model.heads.det = dict(
        type='DetectorAdapter', num_classes=4, strides_from_features=True,
        detector=Config.fromfile(osp.join(MMDET_CONFIGS, config)).model)
    return cfg.model


@pytest.mark.parametrize('config, layer', [
    ('carafe/faster-rcnn_r50_fpn-carafe_1x_coco.py',
     r'heads\.det\.detector\.neck\.upsample_modules\.0 \(CARAFEPack\) runs '
     r"mmcv's carafe op"),
    ('guided_anchoring/ga-rpn_r50-caffe_fpn_1x_coco.py',
     r'heads\.det\.detector\.bbox_head\.conv_cls \(MaskedConv2d\) runs '
     r"mmcv's masked_conv2d op"),
], ids=['carafe', 'guided_anchoring'])
def test_models_that_cannot_run_here_are_refused_when_built(
        config, layer, monkeypatch):
    """On a CPU-only machine the model is refused naming the layer and the
    op (mmcv's error at the first iteration, or the first prediction, before);
    where a GPU is, it builds."""
    where = 'mmsquad.models.multitask.multitask_model.get_device'
    monkeypatch.setattr(where, lambda: 'cpu')
    with pytest.raises(ValueError, match=layer + r'.*no GPU.*train this model '
                       'where a GPU is available'):
        MODELS.build(hosted(config))
    monkeypatch.setattr(where, lambda: 'cuda')
    MODELS.build(hosted(config))
