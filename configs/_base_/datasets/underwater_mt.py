# An underwater detection set in the DUO layout, with optional enhancement
# references of the same file names:
#   data/underwater/images/{train,test}/*.jpg
#   data/underwater/reference/{train,test}/*.jpg   (optional, per image)
#   data/underwater/annotations/instances_{train,test}.json
dataset_type = 'UnderwaterMTDataset'
data_root = 'data/underwater/'
img_scale = (1333, 800)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation',
         backend_args=backend_args),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='LoadEnhancementReference'),
    # Geometric transforms move the input, its boxes and its reference.
    dict(type='WithReference', transforms=[
        dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
        dict(type='mmdet.RandomFlip', prob=0.5),
    ]),
    dict(type='PackUnderwaterInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation',
         backend_args=backend_args),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    # Boxes and references stay at the original size, where predictions
    # are scored.
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='LoadEnhancementReference'),
    dict(type='PackUnderwaterInputs'),
]

# tools/test.py --tta: every image and its mirror; boxes of both pass NMS
# as in mmdet's DetTTAModel, the enhanced images are averaged
# (docs/train_test.md).
tta_model = dict(type='MultiTaskTTAModel',
                 tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                              max_per_img=100))
tta_pipeline = [test_pipeline[0], dict(type='TestTimeAug', transforms=[
    [test_pipeline[1]],
    [dict(type='mmdet.RandomFlip', prob=prob) for prob in (0., 1.)],
    *[[step] for step in test_pipeline[2:]]])]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='images/train/', ref='reference/train/'),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_test.json',
        data_prefix=dict(img='images/test/', ref='reference/test/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoDetectionMetric',
         ann_file=data_root + 'annotations/instances_test.json',
         metric='bbox'),
    dict(type='MultiTaskMetric'),
]
test_evaluator = val_evaluator
