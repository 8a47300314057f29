# NYUD-v2 multi-task (NYUD_MT archive layout), 480x640 images. Protocol:
# the crop protocol of later multi-task work (e.g. InvPT). Train: a
# keep-ratio zoom by a factor in [1.0, 1.5] (depth divided by it); a random
# 448x576 crop; horizontal flip; photometric distortion. Test: the original
# 480x640.
# The SquadNet paper's protocol is nyud_mt.py.
_base_ = ['./nyud_mt.py']

crop_size = (448, 576)

train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomScale', ratio_range=(1.0, 1.5)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
