# mtinet_pascal_ctx.py with edges as a fifth task (weight 50, positive
# pixels weighted 0.95 as published).
_base_ = ['./mtinet_pascal_ctx.py']
tasks = ['semseg', 'human_parts', 'sal', 'normals', 'edge']
model = dict(
    heads=dict(edge=dict(
        type='DecodeHeadAdapter',
        head={{_base_.hrnet_head.head}},
        loss=dict(type='BalancedBCELoss', pos_weight=0.95))),
    task_weights=dict(edge=50.0))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
