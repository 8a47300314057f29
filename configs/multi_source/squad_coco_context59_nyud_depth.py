# One SquadNet-small, three datasets of three packages, each labelled for
# one task: object detection on an mmdet COCO-format set, semantic
# segmentation on mmseg's PASCAL-Context-59 (mmseg's own dataset config,
# inherited), depth on NYUD-v2 (mmsquad's dataset). `TaskDataset` hands
# each mmdet or mmseg sample to its task; every other head skips it.
# mmdet's MultiSourceSampler puts 2 samples of each set in every batch, so
# training counts iterations. Validation runs over the three val sets at
# once: CocoDetectionMetric scores the samples with boxes, MultiTaskMetric
# each dense task on the samples labelled for it.
# Every batch is padded to its largest image (here COCO's, up to 1333x800).
_base_ = [
    'mmseg::_base_/datasets/pascal_context_59.py',
    '../_base_/models/squadnet_underwater.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
context59 = dict(name='context59', type='LabelMapTask', num_classes=59)
coco_classes = 80
model = dict(
    tasks=['det', context59, 'depth'],
    heads=dict(
        _delete_=True,
        det=dict(type='DenseHeadAdapter', neck=_base_.det_neck,
                 head=dict(_base_.det_head, num_classes=coco_classes)),
        context59=dict(type='ASPPTaskHead', norm_cfg=_base_.norm_cfg,
                       loss=dict(type='PixelCrossEntropyLoss')),
        depth=dict(type='ASPPTaskHead', norm_cfg=_base_.norm_cfg,
                   loss=dict(type='MaskedL1Loss'))),
    task_weights=dict(_delete_=True, det=1.0, context59=1.0, depth=1.0))

# The COCO-format set, as mmdet's coco_detection.py defines it (in mmdet's
# scope; a custom set names its classes with metainfo=dict(classes=...)).
coco_root = 'data/coco/'
coco_train = dict(
    type='CocoDataset', data_root=coco_root,
    ann_file='annotations/instances_train2017.json',
    data_prefix=dict(img='train2017/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline=[
        dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(1333, 800), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs'),
    ])
coco_val = dict(
    type='CocoDataset', data_root=coco_root,
    ann_file='annotations/instances_val2017.json',
    data_prefix=dict(img='val2017/'), test_mode=True,
    pipeline=[
        dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
        dict(type='Resize', scale=(1333, 800), keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs', meta_keys=(
            'img_id', 'img_path', 'ori_shape', 'img_shape',
            'scale_factor')),
    ])
# NYUD-v2's depth maps alone (configs/_base_/datasets/nyud_mt.py has both
# of its tasks).
nyud_root = 'data/NYUD_MT'
nyud_depth = dict(type='NYUDv2MTDataset', data_root=nyud_root,
                  tasks=['depth'])
nyud_train = dict(nyud_depth, split='train', pipeline=[
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
])
nyud_val = dict(nyud_depth, split='val', pipeline=[
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
])


def sources(coco: dict, context: dict, nyud: dict) -> dict:
    """The three sets, concatenated: the tasks of the concatenation are
    theirs together. COCO comes first: the rest of its metainfo (the class
    names the COCO metric and the visualizer read) is its first
    dataset's."""
    return dict(
        type='MultiTaskConcatDataset',
        datasets=[
            dict(type='TaskDataset', task='det', scope='mmdet', dataset=coco),
            dict(type='TaskDataset', task=context59, scope='mmseg',
                 dataset=context),
            nyud,
        ])


train_dataloader = dict(
    _delete_=True,
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='mmdet.MultiSourceSampler', batch_size=6,
                 source_ratio=[1, 1, 1]),
    dataset=sources(coco_train, _base_.train_dataloader.dataset, nyud_train))
val_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=sources(coco_val, _base_.val_dataloader.dataset, nyud_val))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoDetectionMetric', only_labelled=True, metric='bbox',
         ann_file=coco_root + 'annotations/instances_val2017.json'),
    dict(type='MultiTaskMetric'),
]
test_evaluator = val_evaluator

optim_wrapper = dict(type='OptimWrapper')  # tools/train.py --amp for fp16
max_iters = 80000
train_cfg = dict(_delete_=True, type='ExactResumeIterBasedTrainLoop',
                 max_iters=max_iters, val_interval=8000)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=8000,
                    save_best='coco/bbox_mAP', rule='greater'))
log_processor = dict(by_epoch=False)
