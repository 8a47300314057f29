# The gradient-conflict experiment (tools/misc/grad_conflict_experiment.py):
# configs/squad/demo.py for 2 epochs, measuring the per-task gradient
# conflict on the backbone every 10 iterations.
_base_ = ['../squad/demo.py']

custom_hooks = [dict(type='GradConflictHook', interval=10)]
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.99, begin=0, end=3,
         by_epoch=True)
]
train_cfg = dict(max_epochs=2, val_interval=2)
# The experiment computes delta_m against its own single-task references
# (2 epochs); the demo's are for 4.
val_evaluator = dict(single_task_references=None)
test_evaluator = val_evaluator
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=2))
