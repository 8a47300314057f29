# pascal_ctx.py with PCGrad gradient surgery on the shared parameters and
# the gradient-conflict measurement every 50 iterations.
_base_ = ['./pascal_ctx.py']
optim_wrapper = dict(type='PCGradOptimWrapper')
custom_hooks = [dict(type='GradConflictHook', interval=50)]
