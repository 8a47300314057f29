# The multi-task benchmark's shared encoder on NYUD-v2 (semseg, depth): a
# dilated ResNet-50 (output stride 8; mmseg's ResNet) and DeepLab-ASPP
# heads. From scratch; for ImageNet weights give the backbone
# init_cfg=dict(type='Pretrained', checkpoint='<resnet50.pth>').
_base_ = ['./squadnet_small_nyud.py']
resnet50_dilated = dict(
    type='mmseg.ResNet',
    depth=50,
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    norm_cfg=dict(type='BN'))
model = dict(backbone=dict(_delete_=True, **resnet50_dilated), neck=None)
