# Single-task baseline for normals: the shared-encoder trunk with one head.
_base_ = ['./shared_encoder_pascal_ctx.py']
task = 'normals'
model = dict(
    heads=dict(_delete_=True, normals={{_base_.model.heads.normals}}),
    task_weights=dict(_delete_=True))
train_dataloader = dict(dataset=dict(tasks=[task]))
val_dataloader = dict(dataset=dict(tasks=[task]))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(save_best='normals/mean', rule='less'))
