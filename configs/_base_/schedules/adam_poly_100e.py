# The multi-task benchmark's schedule for PAD-Net and MTI-Net, and for MTAN
# on NYUD-v2: Adam lr 1e-4, weight decay 1e-4, batch 8 (the dataloader's
# batch_size), 100 epochs, the learning rate set once per epoch to lr0 * (1 -
# epoch / 100) ** 0.9; float32; evaluated every epoch.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-4))
# mmengine's PolyLR reaches eta_min at epoch end - 1: end=101.
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=101,
         by_epoch=True)
]
train_cfg = dict(type='ExactResumeEpochBasedTrainLoop', max_epochs=100,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=8)
