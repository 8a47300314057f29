# A whole mmdet config inherited, its model replaced by an mmsquad
# multi-task model: mmdet's RetinaNet (its data, schedule, runtime, COCO
# metric) with SquadNet-tiny as the trunk and mmdet's RetinaNet, taken from
# the same config, as the `det` task's detector. Everything mmdet's config
# builds stays in mmdet's scope (its default_scope); the mmsquad parts name
# theirs (`_scope_='mmsquad'`).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py']

model = dict(
    _delete_=True,
    _scope_='mmsquad',
    type='MultiTaskModel',
    tasks=['det'],
    data_preprocessor=dict(
        type='MultiTaskDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='SquadNet', arch='tiny'),
    heads=dict(det=dict(type='DetectorAdapter', detector={{_base_.model}},
                        strides_from_features=True)))
# mmdet's COCO samples, handed to the det task.
train_dataloader = dict(dataset=dict(
    _delete_=True, _scope_='mmsquad', type='TaskDataset', task='det',
    scope='mmdet', dataset={{_base_.train_dataloader.dataset}}))
val_dataloader = dict(dataset=dict(
    _delete_=True, _scope_='mmsquad', type='TaskDataset', task='det',
    scope='mmdet', dataset={{_base_.val_dataloader.dataset}}))
test_dataloader = val_dataloader
