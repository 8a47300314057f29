# NDDR-CNN (69,247,264 parameters): one dilated ResNet-18 per task,
# fused by NDDR layers after the stem and layer1 .. layer4 (alpha 0.9,
# beta 0.1),
# DeepLab-ASPP heads, on PASCAL-Context; the multi-task benchmark's
# schedule (SGD lr 0.005, batch 12, 300 epochs, poly), from scratch.
# The published recipe's options: 100x the learning rate for the nddr
# weights, optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
#     '.nddr.': dict(lr_mult=100)}));.
_base_ = [
    '../_base_/models/mtl_resnet18_dilated.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/schedules/sgd_poly_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='NDDREncoder',
        backbone={{_base_.resnet18_dilated}},
        alpha=0.9,
        beta=0.1))
train_dataloader = dict(batch_size=12)
