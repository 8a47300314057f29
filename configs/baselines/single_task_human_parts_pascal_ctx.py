# Single-task baseline for human_parts: the shared-encoder trunk with one head.
_base_ = ['./shared_encoder_pascal_ctx.py']
task = 'human_parts'
model = dict(
    heads=dict(_delete_=True, human_parts={{_base_.model.heads.human_parts}}),
    task_weights=dict(_delete_=True))
train_dataloader = dict(dataset=dict(tasks=[task]))
val_dataloader = dict(dataset=dict(tasks=[task]))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(save_best='human_parts/mIoU', rule='greater'))
