# The shared-encoder baseline of the gradient-conflict experiment: the
# SquadNet-small trunk without squads and without task routing (as
# configs/baselines/shared_encoder_pascal_ctx.py), same data, schedule, seed.
_base_ = ['./squad_demo.py']

model = dict(
    backbone=dict(block_type='plain'),
    neck=None)
