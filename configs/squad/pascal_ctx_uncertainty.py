# pascal_ctx.py with uncertainty weighting (Kendall et al. 2018) on top of
# the fixed task weights. Other balancers: DynamicWeightAverage, GradNorm.
_base_ = ['./pascal_ctx.py']
model = dict(loss_balancer=dict(type='UncertaintyWeighting'))
