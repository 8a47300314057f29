# The multi-task benchmark's HRNet-W18 (the small variant: mmseg's
# fcn_hr18s backbone, 3,860,720 parameters as published) for PAD-Net and
# MTI-Net on PASCAL-Context (semseg, human parts, saliency, normals; loss
# weights 1/2/5/10), every task also predicted at the intermediate levels.
# From scratch (the published runs start from ImageNet weights: give the
# backbone init_cfg=dict(type='Pretrained', checkpoint='<hrnetv2_w18.pth>')).
_base_ = ['./squadnet_small.py']
hrnet18s = dict(
    type='mmseg.HRNet',
    norm_cfg=dict(type='BN'),
    norm_eval=False,
    extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                    num_blocks=(2, ), num_channels=(64, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                    num_blocks=(2, 2), num_channels=(18, 36)),
        stage3=dict(num_modules=3, num_branches=3, block='BASIC',
                    num_blocks=(2, 2, 2), num_channels=(18, 36, 72)),
        stage4=dict(num_modules=2, num_branches=4, block='BASIC',
                    num_blocks=(2, 2, 2, 2),
                    num_channels=(18, 36, 72, 144))))
# PAD-Net's heads: two Bottlenecks at 256 channels and a 1x1 conv.
padnet_head = dict(type='ResidualTaskHead')
# MTI-Net's heads: the published HRNet head, i.e. mmseg's FCN head of its
# HRNet configs (the four scales resized and concatenated, 1x1 conv + BN +
# ReLU, 1x1 conv); no dropout, as published; the task's default loss.
hrnet_head = dict(
    type='DecodeHeadAdapter',
    head=dict(
        _scope_='mmseg',
        type='FCNHead',
        in_index=(0, 1, 2, 3),
        input_transform='resize_concat',
        channels=270,
        kernel_size=1,
        num_convs=1,
        concat_input=False,
        dropout_ratio=-1,
        norm_cfg=dict(type='BN'),
        align_corners=False))
model = dict(backbone=dict(_delete_=True, **hrnet18s), neck=None)
