# pascal_ctx.py on the embedded demo data (tools/misc/make_demo_data.py):
# only the data root, the image size and the schedule change.
_base_ = ['./pascal_ctx.py']

data_root = 'data/PASCAL_MT_demo'
crop_size = (96, 96)
# mmengine cannot patch one step of an inherited list: the pipelines are
# restated with the demo image size.
_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomScale', ratio_range=(0.75, 1.25)),
    dict(type='MultiTaskRandomRotate', max_angle=10, prob=0.5),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiTaskResize', scale=crop_size),
    # Targets stay at the original size: predictions are scored there.
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]

train_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(data_root=data_root, pipeline=_train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(data_root=data_root, pipeline=_test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1.5e-3))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=4,
         by_epoch=True, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=4, val_interval=4)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=4, save_best=None))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
