# The SquadNet paper's schedule, as its published code runs it: Adam lr
# 1e-4, weight decay 1e-4, batch 6 on one GPU, 300 epochs; the learning
# rate set once per epoch to lr0 * (1 - epoch / 300) ** 0.99, no warm-up;
# fp16 autocast with a dynamic loss scaler (mmengine's AmpOptimWrapper;
# tools/train.py trains in float32 with one warning line on a machine
# without CUDA, or in CPU bfloat16 with --amp); evaluated every epoch.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-4))
# mmengine's PolyLR reaches eta_min at epoch end - 1: end=301 gives the
# published lr0 * (1 - epoch / 300) ** 0.99 at epochs 0..299.
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.99, begin=0, end=301,
         by_epoch=True)
]
# mmengine's epoch loop that resumes exactly where a killed run stopped.
train_cfg = dict(type='ExactResumeEpochBasedTrainLoop', max_epochs=300,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=6)
