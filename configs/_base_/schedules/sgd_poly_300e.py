# The multi-task benchmark's schedule for Cross-Stitch, NDDR-CNN and MTAN on
# PASCAL-Context: SGD lr 0.005, momentum 0.9, weight decay 1e-4, batch 12
# (the dataloader's batch_size), 300 epochs, the learning rate set once per
# epoch to lr0 * (1 - epoch / 300) ** 0.9; float32; evaluated every epoch.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=1e-4))
# mmengine's PolyLR reaches eta_min at epoch end - 1: end=301.
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=301,
         by_epoch=True)
]
train_cfg = dict(type='ExactResumeEpochBasedTrainLoop', max_epochs=300,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=12)
