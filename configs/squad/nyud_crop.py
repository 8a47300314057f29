# SquadNet-small on NYUD-v2: semseg (40 classes) and depth, loss weights
# 1/1, the crop protocol of later multi-task work and the paper's schedule
# (configs/_base_/datasets/nyud_mt_crop.py, configs/_base_/schedules/
# adam_poly_300e.py). The best checkpoint: by multitask/delta_m with
# `single_task_references`, otherwise by semseg/mIoU.
_base_ = [
    '../_base_/models/squadnet_small_nyud.py',
    '../_base_/datasets/nyud_mt_crop.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
