# PASCAL-Context multi-task (PASCAL_MT archive layout). Protocol: the
# SquadNet paper's, as its published code and the multi-task benchmark of
# Vandenhende et al. run it. Train: horizontal flip; on every image a
# rotation in [-20, 20] degrees and a zoom in [0.75, 1.25] about the centre
# on the original canvas (new border pixels: background for the label maps
# and saliency, ignored for normals); a resize to exactly 512x512 ignoring
# the aspect ratio (bicubic image and normals, nearest labels); no colour
# augmentation. Test: the image resized the same way; predictions brought
# back to the original size (labels: argmax then nearest; saliency and
# normals bilinear) and scored there.
# The crop protocol of later work is pascal_context_mt_crop.py.
dataset_type = 'PascalContextMTDataset'
data_root = 'data/PASCAL_MT'
tasks = ['semseg', 'human_parts', 'sal', 'normals']
img_scale = (512, 512)

train_pipeline = [
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
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='MultiTaskResize', scale=img_scale, keep_ratio=False,
         interpolation='bicubic'),
    # Targets stay at the original size: predictions are scored there.
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]

# tools/test.py --tta: every image at 0.75, 1 and 1.25 times the test
# size, each also mirrored; the model averages the six views' predictions
# (docs/train_test.md).
tta_model = dict(type='MultiTaskTTAModel')
tta_pipeline = [test_pipeline[0], dict(type='TestTimeAug', transforms=[
    [dict(test_pipeline[1], scale=(round(img_scale[0] * ratio),
                                   round(img_scale[1] * ratio)))
     for ratio in (0.75, 1.0, 1.25)],
    [dict(type='MultiTaskRandomFlip', prob=prob) for prob in (0., 1.)],
    *[[step] for step in test_pipeline[2:]]])]

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

# `single_task_references='<file>.json'` (from
# tools/analysis_tools/collect_single_task.py) adds multitask/delta_m, which
# then picks the best checkpoint.
val_evaluator = dict(type='MultiTaskMetric')
test_evaluator = val_evaluator
