# SquadNet-small on PASCAL-Context with the crop protocol of later
# multi-task work (configs/_base_/datasets/pascal_context_mt_crop.py) and
# the paper's schedule and model selection (see pascal_ctx.py).
_base_ = [
    '../_base_/models/squadnet_small.py',
    '../_base_/datasets/pascal_context_mt_crop.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
