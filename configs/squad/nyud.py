# SquadNet-small on NYUD-v2: semseg (40 classes) and depth, weights 1/1.
_base_ = [
    '../_base_/models/squadnet_small.py',
    '../_base_/datasets/nyud_mt.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    tasks={{_base_.tasks}},
    heads=dict(
        _delete_=True,
        semseg=dict(type='ASPPTaskHead',
                    loss=dict(type='PixelCrossEntropyLoss')),
        depth=dict(type='ASPPTaskHead', loss=dict(type='MaskedL1Loss'))),
    task_weights=dict(_delete_=True, semseg=1.0, depth=1.0))
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3,
                    save_best='semseg/mIoU', rule='greater'))
