default_scope = 'mmsquad'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # mmengine's LoggerHook, with a first line at the first iteration.
    logger=dict(type='ProgressLoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, crash-safe (see SafeCheckpointHook).
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Stop at the first NaN/inf loss, before anything is saved.
    loss_check=dict(type='NonFiniteLossHook'),
    # Generator states in each checkpoint, for an exact resume.
    random_state=dict(type='RandomStateHook'),
    # Distributed: BatchNorm statistics averaged over the ranks after each
    # epoch and before validation (SafeCheckpointHook also before saving).
    sync_buffers=dict(type='SyncBuffersHook'),
    visualization=dict(type='MultiTaskVisualizationHook', interval=1,
                       max_panels=4),
    # The model's tasks and its data's agree, before the first iteration.
    task_agreement=dict(type='TaskAgreementHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# Add dict(type='TensorboardVisBackend') to log to TensorBoard as well.
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='MultiTaskVisualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
