# MTAN (31,627,296 parameters): a shared dilated ResNet-18 with task
# attention masks at every layer,
# DeepLab-ASPP heads, on PASCAL-Context; the multi-task benchmark's
# schedule (SGD lr 0.005, batch 12, 300 epochs, poly), from scratch.
_base_ = [
    '../_base_/models/mtl_resnet18_dilated.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/schedules/sgd_poly_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='MTANEncoder',
        backbone={{_base_.resnet18_dilated}}))
train_dataloader = dict(batch_size=12)
