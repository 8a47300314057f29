# Shared-encoder multi-task baseline: the SquadNet-small trunk without
# squads (one expert over all channels, residual kept) and no task routing:
# every head sees all 768 channels of the last level.
_base_ = ['../squad/pascal_ctx.py']
model = dict(
    backbone=dict(block_type='plain'),
    neck=None)
