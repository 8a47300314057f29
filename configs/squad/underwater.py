# SquadNet-small learns underwater object detection (RetinaHead on an FPN,
# from mmdet) and underwater image enhancement together, on DUO-style data
# with enhancement references (configs/_base_/datasets/underwater_mt.py).
_base_ = [
    '../_base_/models/squadnet_underwater.py',
    '../_base_/datasets/underwater_mt.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
# float32 (tools/train.py --amp for mixed precision), not the paper
# schedule's fp16.
optim_wrapper = dict(type='OptimWrapper')
train_cfg = dict(max_epochs=100, val_interval=5)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=100,
         by_epoch=True, convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=4)
# Detection is the task that picks the best checkpoint.
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
