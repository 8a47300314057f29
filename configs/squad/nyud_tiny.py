# SquadNet-tiny (the paper's ablation: depths 2/2/2, one shared group) on
# NYUD-v2, otherwise as nyud.py.
_base_ = ['./nyud.py']
model = dict(backbone=dict(arch='tiny'))
