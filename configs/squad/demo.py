# pascal_ctx.py on the embedded demo data (tools/misc/make_demo_data.py),
# the same protocol at the demo's scale: images stretched to 96x96 instead
# of 512x512, 4 epochs, a larger learning rate. multitask/delta_m is
# measured against single-task references: SquadNet-small with one task's
# head, trained on the same data with the same schedule and seed, each
# task's main metric (configs/squad/demo_single_task_references.json;
# regenerate with `python tools/misc/make_single_task_references.py
# configs/squad/demo.py --out configs/squad/demo_single_task_references.json`,
# about 10 minutes on 2 CPU cores).
_base_ = ['./pascal_ctx.py']

data_root = 'data/PASCAL_MT_demo'
img_scale = (96, 96)
# mmengine cannot patch one step of an inherited list: the pipelines are
# restated with the demo image size.
_train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='MultiTaskRandomScaleRotate', angle_range=(-20, 20),
         scale_range=(0.75, 1.25), interpolation='bicubic',
         border='background'),
    dict(type='MultiTaskResize', scale=img_scale, keep_ratio=False,
         interpolation='bicubic'),
    dict(type='PackMultiTaskInputs'),
]
_test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='MultiTaskResize', scale=img_scale, keep_ratio=False,
         interpolation='bicubic'),
    # Targets stay at the original size: predictions are scored there.
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
# The views of tools/test.py --tta at the demo's size.
tta_pipeline = [_test_pipeline[0], dict(type='TestTimeAug', transforms=[
    [dict(_test_pipeline[1], scale=(round(img_scale[0] * ratio),
                                    round(img_scale[1] * ratio)))
     for ratio in (0.75, 1.0, 1.25)],
    [dict(type='MultiTaskRandomFlip', prob=prob) for prob in (0., 1.)],
    *[[step] for step in _test_pipeline[2:]]])]

train_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(data_root=data_root, pipeline=_train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(data_root=data_root, pipeline=_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    single_task_references='configs/squad/demo_single_task_references.json')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=1.5e-3))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.99, begin=0, end=5,
         by_epoch=True)
]
train_cfg = dict(max_epochs=4, val_interval=4)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=4, save_best=None))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
