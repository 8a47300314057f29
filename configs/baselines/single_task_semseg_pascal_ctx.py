# Single-task baseline for semseg: the shared-encoder trunk with one head.
_base_ = ['./shared_encoder_pascal_ctx.py']
task = 'semseg'
model = dict(
    heads=dict(_delete_=True, semseg={{_base_.model.heads.semseg}}),
    task_weights=dict(_delete_=True))
train_dataloader = dict(dataset=dict(tasks=[task]))
val_dataloader = dict(dataset=dict(tasks=[task]))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(save_best='semseg/mIoU', rule='greater'))
