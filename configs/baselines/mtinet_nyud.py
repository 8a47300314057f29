# MTI-Net (14,837,581 parameters: the published 14,838,121 less the
# redundant biases of the heads' convolutions before BN) on NYUD-v2 as
# published: semseg and depth evaluated, edges and normals auxiliary tasks
# (predicted and supervised at the intermediate levels only); loss weights
# semseg 1, depth 1, normals 10, edges 50 (positive pixels 0.95);
# HRNet-W18s; Adam 1e-4, batch 8, 100 epochs, poly; from scratch.
_base_ = [
    '../_base_/models/mtl_hrnet18s.py',
    '../_base_/datasets/nyud_mt.py',
    '../_base_/schedules/adam_poly_100e.py',
    '../_base_/default_runtime.py',
]
nyud_edge = {{_base_.nyud_edge}}
head = {{_base_.hrnet_head}}
model = dict(
    tasks={{_base_.tasks}},
    auxiliary_tasks=[nyud_edge, 'normals'],
    neck=dict(_delete_=True, type='MTINetNeck'),
    heads=dict(_delete_=True, semseg=head, depth=head),
    task_weights=dict(
        _delete_=True, semseg=1.0, depth=1.0, normals=10.0, edge=50.0))
# The data carry the auxiliary tasks' targets; the metric scores the heads'.
supervised = [
    dict(name='semseg', type='LabelMapTask', num_classes=40), 'depth',
    nyud_edge, 'normals'
]
train_dataloader = dict(batch_size=8, dataset=dict(tasks=supervised))
