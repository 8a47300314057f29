# pascal_ctx.py with torchjd's UPGrad aggregating the per-task gradients of
# the shared parameters (any aggregator of torchjd.aggregation by name:
# torchjd.MGDA, torchjd.AlignedMTL, torchjd.DualProj, torchjd.IMTLG, ...),
# and the gradient-conflict measurement every 50 iterations.
_base_ = ['./pascal_ctx.py']
optim_wrapper = dict(type='GradSurgeryOptimWrapper',
                     aggregator=dict(type='torchjd.UPGrad'), amp=True)
custom_hooks = [dict(type='GradConflictHook', interval=50)]
