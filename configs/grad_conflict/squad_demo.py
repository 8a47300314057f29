# The schedule of the gradient-conflict experiment
# (tools/misc/grad_conflict_experiment.py): configs/squad/demo.py (the
# embedded demo data at 96x96, Adam 1.5e-3, batch 4) for 8 epochs,
# validating every 2, measuring the per-task gradient conflict on the
# shared parameters every 10 iterations. The experiment puts each compared
# model, training method and seed into it; as it stands it trains
# SquadNet-small.
_base_ = ['../squad/demo.py']

custom_hooks = [dict(type='GradConflictHook', interval=10)]
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.99, begin=0, end=9,
         by_epoch=True)
]
train_cfg = dict(max_epochs=8, val_interval=2)
# float32 everywhere, so every method runs the same arithmetic.
optim_wrapper = dict(type='OptimWrapper')
# The experiment computes delta_m against its own single-task references.
val_evaluator = dict(single_task_references=None)
test_evaluator = val_evaluator
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=8, max_keep_ckpts=1))
