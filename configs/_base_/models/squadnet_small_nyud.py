# SquadNet-small with DeepLab-ASPP heads for NYUD-v2: semseg (40 classes,
# as configs/_base_/datasets/nyud_mt*.py define it) and depth, loss weights
# 1/1.
_base_ = ['./squadnet_small.py']
model = dict(
    tasks=[dict(name='semseg', type='LabelMapTask', num_classes=40), 'depth'],
    heads=dict(
        _delete_=True,
        semseg=dict(type='ASPPTaskHead',
                    loss=dict(type='PixelCrossEntropyLoss')),
        depth=dict(type='ASPPTaskHead', loss=dict(type='MaskedL1Loss'))),
    task_weights=dict(_delete_=True, semseg=1.0, depth=1.0))
