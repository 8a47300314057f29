# SquadNet-tiny (the paper's ablation: depths 2/2/2, one shared group) on
# PASCAL-Context, otherwise as pascal_ctx.py.
_base_ = ['./pascal_ctx.py']
model = dict(backbone=dict(arch='tiny'))
