# pascal_ctx.py with PCGrad gradient surgery on the shared parameters (fp16
# on CUDA as the paper, float32 elsewhere) and
# the gradient-conflict measurement every 50 iterations.
_base_ = ['./pascal_ctx.py']
optim_wrapper = dict(type='GradSurgeryOptimWrapper',
                     aggregator=dict(type='PCGrad'), amp=True)
custom_hooks = [dict(type='GradConflictHook', interval=50)]
