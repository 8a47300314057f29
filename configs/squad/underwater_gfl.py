# underwater.py with mmdet's GFL head in place of RetinaHead: a config
# change only.
_base_ = ['./underwater.py']
model = dict(heads=dict(det=dict(head=dict(
    _delete_=True, _scope_='mmdet', type='GFLHead',
    num_classes={{_base_.num_classes}}, stacked_convs=4, feat_channels=256,
    anchor_generator=dict(type='AnchorGenerator', ratios=[1.0],
                          octave_base_scale=8, scales_per_octave=1,
                          strides=[4, 8, 16, 32, 64]),
    loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                  loss_weight=1.0),
    loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
    reg_max=16,
    loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
    train_cfg=dict(assigner=dict(type='ATSSAssigner', topk=9),
                   allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.6),
                  max_per_img=100)))))
