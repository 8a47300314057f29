# pascal_ctx.py with uncertainty weighting (Kendall et al. 2018; torchjd's
# UW) on top of the fixed task weights. Other balancers: any torchjd
# scalarization by name, DynamicWeightAverage, GradNorm.
_base_ = ['./pascal_ctx.py']
model = dict(loss_balancer=dict(type='TorchJDScalarization',
                                scalarizer=dict(type='UW')))
