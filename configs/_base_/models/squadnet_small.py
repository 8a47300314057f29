# SquadNet-small with DeepLab-ASPP heads (PASCAL-Context setting). The
# tasks are the presets of their names (mmsquad/tasks/presets.py); the model
# fills in the backbone's num_tasks and every head's input and output
# channels from the tasks, the neck and the backbone.
norm_cfg = dict(type='BN')
semseg_head = dict(type='ASPPTaskHead', norm_cfg=norm_cfg,
                   loss=dict(type='PixelCrossEntropyLoss'))
human_parts_head = dict(type='ASPPTaskHead', norm_cfg=norm_cfg,
                        loss=dict(type='PixelCrossEntropyLoss'))
sal_head = dict(type='ASPPTaskHead', norm_cfg=norm_cfg,
                loss=dict(type='BalancedBCELoss'))
normals_head = dict(type='ASPPTaskHead', norm_cfg=norm_cfg,
                    loss=dict(type='NormalsL1Loss'))
model = dict(
    type='MultiTaskModel',
    data_preprocessor=dict(
        type='MultiTaskDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=8),
    backbone=dict(type='SquadNet', arch='small', norm_cfg=norm_cfg),
    neck=dict(type='ExpertSquadNeck', levels=[2]),
    heads=dict(semseg=semseg_head, human_parts=human_parts_head,
               sal=sal_head, normals=normals_head),
    task_weights=dict(semseg=1.0, human_parts=2.0, sal=5.0, normals=10.0),
    # Faster convolutions on CPU (oneDNN) and GPU (tensor cores); see
    # docs/benchmarks.md.
    channels_last=True)
