# PAD-Net (19,515,166 parameters) on PASCAL-Context: HRNet-W18s, every task
# predicted from the fused branches, multi-modal distillation, two
# Bottlenecks and a 1x1 conv per task; the initial predictions supervised
# with each task's loss and weight. The multi-task benchmark's schedule
# (Adam 1e-4, batch 8, 100 epochs, poly), from scratch.
_base_ = [
    '../_base_/models/mtl_hrnet18s.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/schedules/adam_poly_100e.py',
    '../_base_/default_runtime.py',
]
padnet_head = {{_base_.padnet_head}}
model = dict(
    neck=dict(_delete_=True, type='PADNetNeck'),
    heads=dict(
        _delete_=True,
        semseg=padnet_head,
        human_parts=padnet_head,
        sal=padnet_head,
        normals=padnet_head))
train_dataloader = dict(batch_size=8)
