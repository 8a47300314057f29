# NYUD-v2 multi-task (NYUD_MT archive layout), 480x640 images. Protocol:
# the SquadNet paper's, as its published code runs it. Train: horizontal
# flip; a zoom by a factor drawn from {1, 1.2, 1.5} about the centre on the
# full 480x640 canvas, depth divided by it (an object enlarged s times
# appears s times closer); no rotation, no colour augmentation. Test: the
# original 480x640.
# The crop protocol of later work is nyud_mt_crop.py.
dataset_type = 'NYUDv2MTDataset'
data_root = 'data/NYUD_MT'
# NYUD-v2 has 40 classes; its edges (for configs that add them) are matched
# within 0.011 of the image diagonal.
tasks = [dict(name='semseg', type='LabelMapTask', num_classes=40), 'depth']
nyud_edge = dict(name='edge', type='BoundaryMapTask', max_dist=0.011)

train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='MultiTaskRandomScaleRotate', angle_range=(0, 0),
         scale_choices=(1.0, 1.2, 1.5), interpolation='bicubic',
         border='ignore'),
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

train_dataloader = dict(
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # As the published code: an epoch's incomplete last batch is dropped
    # (a batch of one cannot train the heads' image-pool BatchNorm).
    drop_last=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 tasks=tasks, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 tasks=tasks, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='MultiTaskMetric')
test_evaluator = val_evaluator
