# The published recipe: Adam lr 1e-4, weight decay 1e-4, poly decay,
# 300 epochs, batch 6 on one GPU.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=300,
         by_epoch=True, convert_to_iter_based=True)
]
# mmengine's epoch loop that resumes exactly where a killed run stopped.
train_cfg = dict(type='ExactResumeEpochBasedTrainLoop', max_epochs=300,
                 val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=6)
