# "No squad" ablation: squad blocks replaced by one expert over all channels
# (residual kept); heads still see a task chunk plus the shared chunks.
_base_ = ['../squad/pascal_ctx.py']
model = dict(backbone=dict(block_type='plain'))
