# SquadNet-small on PASCAL-Context (semseg, human parts, saliency, normals;
# loss weights 1/2/5/10), the SquadNet paper's protocol and schedule
# (configs/_base_/datasets/pascal_context_mt.py,
# configs/_base_/schedules/adam_poly_300e.py). The best checkpoint is the
# epoch with the best multitask/delta_m when the evaluator has
# `single_task_references`, otherwise the one with the best semseg/mIoU.
_base_ = [
    '../_base_/models/squadnet_small.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
