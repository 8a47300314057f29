# Cross-Stitch networks (79,292,841 parameters) on NYUD-v2 (semseg,
# depth) around a dilated ResNet-50, DeepLab-ASPP heads; the multi-task
# benchmark's NYUD hyper-parameters (SGD lr 0.001, batch 8, 50 epochs,
# poly), from scratch.
_base_ = [
    '../_base_/models/mtl_resnet50_dilated_nyud.py',
    '../_base_/datasets/nyud_mt.py',
    '../_base_/schedules/sgd_poly_50e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='CrossStitchEncoder',
        backbone={{_base_.resnet50_dilated}},
        alpha=0.9,
        beta=0.1))
train_dataloader = dict(batch_size=8)
