# The gradient-conflict experiment (tools/misc/grad_conflict_experiment.py):
# configs/squad/demo.py for 2 epochs, measuring the per-task gradient
# conflict on the backbone every 10 iterations.
_base_ = ['../squad/demo.py']

custom_hooks = [dict(type='GradConflictHook', interval=10)]
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=2,
         by_epoch=True, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=2))
