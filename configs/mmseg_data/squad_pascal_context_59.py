# SquadNet-small trained on mmseg's own PASCAL-Context-59 dataset config
# (mmseg's layout, pipeline and splits, inherited from mmseg's config
# tree): `TaskDataset` hands its samples to the task `context59`, the
# multi-task metric scores it. Any mmseg dataset config feeds a task this
# way; mixed with other tasks' datasets (ConcatDataset), each sample trains
# the heads of the tasks it is labelled for.
_base_ = [
    'mmseg::_base_/datasets/pascal_context_59.py',
    '../_base_/models/squadnet_small.py',
    '../_base_/schedules/adam_poly_300e.py',
    '../_base_/default_runtime.py',
]
context59 = dict(name='context59', type='LabelMapTask', num_classes=59)
model = dict(
    tasks=[context59],
    heads=dict(_delete_=True, context59={{_base_.semseg_head}}),
    task_weights=None)
# mmseg's dataset configs, each wrapped for the task; mmseg's pipeline
# packs with PackSegInputs, in mmseg's scope. mmseg's infinite sampler
# serves its iteration-based schedules: this one counts epochs, and drops
# an epoch's last partial batch (a batch of one would stop the ASPP head's
# image-pooling BatchNorm, as in mmseg).
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=True),
    drop_last=True,
    dataset=dict(_delete_=True, type='TaskDataset', task=context59,
                 scope='mmseg', dataset={{_base_.train_dataloader.dataset}}))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='TaskDataset', task=context59, scope='mmseg',
    dataset={{_base_.val_dataloader.dataset}}))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='MultiTaskMetric')
test_evaluator = val_evaluator
