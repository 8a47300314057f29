# MTAN (72,052,713 parameters) on NYUD-v2 (semseg, depth) around a
# dilated ResNet-50, DeepLab-ASPP heads; the multi-task benchmark's NYUD
# hyper-parameters (Adam 1e-4, batch 8, 100 epochs, poly), from scratch.
_base_ = [
    '../_base_/models/mtl_resnet50_dilated_nyud.py',
    '../_base_/datasets/nyud_mt.py',
    '../_base_/schedules/adam_poly_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='MTANEncoder',
        backbone={{_base_.resnet50_dilated}}))
train_dataloader = dict(batch_size=8)
