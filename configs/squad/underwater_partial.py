# underwater.py on partially labelled data: a detection-only set (DUO
# layout, no references) and an enhancement-only set (UIEB layout:
# raw/ + reference/) at once. Each task's loss comes only from the samples
# that carry its label; mmdet's MultiSourceSampler puts samples of both sets
# in every batch (here 2 + 2), so training is iteration based.
_base_ = ['./underwater.py']

det_root = 'data/underwater/'
enhance_root = 'data/UIEB/'
# Photometric distortion suits the detection-only images: they have no
# reference whose colours it would contradict.
det_pipeline = _base_.train_pipeline[:-1] + [
    dict(type='mmdet.PhotoMetricDistortion'),
    dict(type='PackUnderwaterInputs'),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='mmdet.MultiSourceSampler', batch_size=4,
                 source_ratio=[1, 1]),
    dataset=dict(
        type='MultiTaskConcatDataset',
        datasets=[
            dict(type='UnderwaterMTDataset', data_root=det_root,
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='images/train/'),
                 filter_cfg=dict(filter_empty_gt=False),
                 pipeline=det_pipeline),
            dict(type='EnhancementPairDataset', data_root=enhance_root,
                 data_prefix=dict(img='raw/', ref='reference/'),
                 pipeline=_base_.train_pipeline),
        ]))
max_iters = 90000
train_cfg = dict(_delete_=True, type='ExactResumeIterBasedTrainLoop',
                 max_iters=max_iters, val_interval=5000)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000))
log_processor = dict(by_epoch=False)
