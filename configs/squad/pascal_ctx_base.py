# SquadNet-base (depths 8/8/8) on PASCAL-Context.
_base_ = ['./pascal_ctx.py']
model = dict(backbone=dict(arch='base'))
