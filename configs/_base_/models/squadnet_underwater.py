# SquadNet-small with two task groups: `det` (an mmdet FPN + RetinaHead)
# and `enhance` (a full-resolution enhancement head).
norm_cfg = dict(type='BN')
num_classes = 4  # DUO
# Each task sees its group + 2 shared groups at strides 2, 4 and 8; the
# model fills in the in_channels of the FPN, of the detection head (the
# FPN's out_channels) and of the enhancement head.
det_neck = dict(
    _scope_='mmdet', type='FPN', out_channels=256,
    start_level=1, add_extra_convs='on_output', num_outs=5)
# Any mmdet dense head that works from multi-level features drops in here
# (see configs/squad/underwater_gfl.py); its strides follow the FPN's
# outputs, 4 to 64.
det_head = dict(
    _scope_='mmdet', type='RetinaHead', num_classes=num_classes,
    stacked_convs=4, feat_channels=256,
    anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                          scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                          strides=[4, 8, 16, 32, 64]),
    bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                    target_stds=[1.0, 1.0, 1.0, 1.0]),
    loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                  loss_weight=1.0),
    loss_bbox=dict(type='L1Loss', loss_weight=1.0),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                      neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1,
        pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.5),
                  max_per_img=100))
model = dict(
    type='MultiTaskModel',
    data_preprocessor=dict(
        type='MultiTaskDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=64),
    backbone=dict(type='SquadNet', arch='small', norm_cfg=norm_cfg),
    neck=dict(type='ExpertSquadNeck'),
    heads=dict(
        det=dict(type='DenseHeadAdapter', neck=det_neck, head=det_head),
        enhance=dict(type='EnhancementHead', channels=64, upsample_factor=2,
                     norm_cfg=norm_cfg, loss=dict(type='L1SSIMLoss'))),
    task_weights=dict(det=1.0, enhance=1.0),
    # Faster convolutions on CPU (oneDNN) and GPU (tensor cores); see
    # docs/benchmarks.md.
    channels_last=True)
