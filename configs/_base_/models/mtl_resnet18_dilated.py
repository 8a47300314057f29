# The multi-task benchmark's (Vandenhende et al., TPAMI 2021) shared
# encoder on PASCAL-Context: a dilated ResNet-18 (output stride 8; mmseg's
# ResNet, 11,176,512 parameters as published) and one DeepLab-ASPP head
# per task (semseg, human parts, saliency, normals; loss weights 1/2/5/10).
# From scratch (mmseg's Kaiming init); for ImageNet weights give the
# backbone init_cfg=dict(type='Pretrained', checkpoint='<resnet18.pth>').
# The comparison architectures (configs/baselines/) replace the backbone by
# a multi-task encoder built around `resnet18_dilated`.
_base_ = ['./squadnet_small.py']
resnet18_dilated = dict(
    type='mmseg.ResNet',
    depth=18,
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    norm_cfg=dict(type='BN'))
model = dict(backbone=dict(_delete_=True, **resnet18_dilated), neck=None)
