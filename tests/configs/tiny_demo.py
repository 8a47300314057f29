# A seconds-long variant of configs/squad/demo.py for the tests:
# SquadNet-tiny on 32x32 crops.
_base_ = ['../../configs/squad/demo.py']

crop_size = (32, 32)
# The heads' input channels follow from the tiny backbone (task group + 1
# shared group): the model fills them in.
model = dict(
    backbone=dict(arch='tiny'),
    heads=dict(semseg=dict(channels=16), human_parts=dict(channels=16),
               sal=dict(channels=16), normals=dict(channels=16)))
_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=_train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(pipeline=_test_pipeline))
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=2,
         by_epoch=True, convert_to_iter_based=True)
]
# float32 wherever the tests run (demo.py inherits the paper's CUDA AMP),
# and no single-task references (the demo's are for SquadNet-small).
optim_wrapper = dict(type='OptimWrapper')
val_evaluator = dict(single_task_references=None)
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None))
