# MTI-Net (17,952,780 parameters; the published 17,953,860 less the
# redundant biases of the heads' convolutions before BN) on PASCAL-Context:
# HRNet-W18s, every task predicted at four scales with feature propagation
# between them (deep supervision at every scale), distillation at every
# scale, HRNet heads. The multi-task benchmark's schedule (Adam 1e-4, batch
# 8, 100 epochs, poly), from scratch.
_base_ = [
    '../_base_/models/mtl_hrnet18s.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/schedules/adam_poly_100e.py',
    '../_base_/default_runtime.py',
]
hrnet_head = {{_base_.hrnet_head}}
model = dict(
    neck=dict(_delete_=True, type='MTINetNeck'),
    heads=dict(
        _delete_=True,
        semseg=hrnet_head,
        human_parts=hrnet_head,
        sal=hrnet_head,
        normals=hrnet_head))
train_dataloader = dict(batch_size=8)
