# SquadNet-small on PASCAL-Context: semseg, human parts, saliency, normals.
# `tools/train.py configs/squad/pascal_ctx.py --amp` trains with AMP.
_base_ = [
    '../_base_/models/squadnet_small.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3,
                    save_best='semseg/mIoU', rule='greater'))
