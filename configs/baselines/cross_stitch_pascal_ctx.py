# Cross-Stitch networks (63,618,336 parameters): one dilated ResNet-18
# per task, stitched after layer1 .. layer4 (alpha 0.8, beta 0.05),
# DeepLab-ASPP heads, on PASCAL-Context; the multi-task benchmark's
# schedule (SGD lr 0.005, batch 12, 300 epochs, poly), from scratch.
# The published recipe's options: 100x the learning rate for the stitch
# weights, optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
#     '.stitch.': dict(lr_mult=100)})); and every branch and head initialised
# from its single-task model: model.backbone.branch_init_cfgs = {task: dict(
#     type='Pretrained', checkpoint='<single_task.pth>', prefix='backbone.')}
# and model.heads.<task>.init_cfg = dict(type='Pretrained',
#     checkpoint='<single_task.pth>', prefix='heads.<task>.').
_base_ = [
    '../_base_/models/mtl_resnet18_dilated.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/schedules/sgd_poly_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='CrossStitchEncoder',
        backbone={{_base_.resnet18_dilated}},
        alpha=0.8,
        beta=0.05))
train_dataloader = dict(batch_size=12)
