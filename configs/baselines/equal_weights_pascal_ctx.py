# The "no surgery, equal weights" baseline of the optimisation methods:
# SquadNet-small on PASCAL-Context as configs/squad/pascal_ctx.py (the
# paper's protocol and schedule), every task loss weighted 1, plain Adam.
_base_ = ['../squad/pascal_ctx.py']
model = dict(task_weights=dict(_delete_=True, semseg=1.0, human_parts=1.0,
                               sal=1.0, normals=1.0))
