# The underwater model trained on mmdet's own 1x schedule: the schedule
# comes from mmdet's config tree (SGD, 12 epochs, steps at 8 and 11) and
# mixes with mmsquad's model, data and runtime.
_base_ = [
    '../_base_/models/squadnet_underwater.py',
    '../_base_/datasets/underwater_mt.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
# mmdet's base learning rate is for 16 images per step.
optim_wrapper = dict(optimizer=dict(lr=0.02 * 4 / 16),
                     clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
# The loops of mmdet's schedule carry mmdet's scope, in which they would
# build the data loaders (and miss mmsquad's datasets): run them in ours.
train_cfg = dict(_scope_='mmsquad', type='ExactResumeEpochBasedTrainLoop')
val_cfg = dict(_scope_='mmsquad')
test_cfg = dict(_scope_='mmsquad')
