# PASCAL-Context multi-task (PASCAL_MT archive layout). Protocol: the crop
# protocol of later multi-task work (e.g. InvPT). Train: a keep-ratio zoom
# by a factor in [0.5, 2.0]; a random 512x512 crop, padded with the ignore
# value where the image is smaller; horizontal flip; photometric distortion.
# Test: the image at its original size (padded to the network's stride by
# the data preprocessor), never stretched.
# The SquadNet paper's protocol is pascal_context_mt.py.
_base_ = ['./pascal_context_mt.py']

crop_size = (512, 512)

train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomScale', ratio_range=(0.5, 2.0)),
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

# tools/test.py --tta: every image and its mirror at the test size; the
# model averages the two views' predictions (docs/train_test.md).
tta_model = dict(type='MultiTaskTTAModel')
tta_pipeline = [test_pipeline[0], dict(type='TestTimeAug', transforms=[
    [dict(type='MultiTaskRandomFlip', prob=prob) for prob in (0., 1.)],
    *[[step] for step in test_pipeline[1:]]])]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
