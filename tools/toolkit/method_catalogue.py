"""Every gradient-surgery and loss-weighting method a config can name, as
config changes: for tests, benchmarks and experiments that compare them
all."""
from typing import Dict

from mmsquad.engine import (torchjd_aggregator_config,
                            torchjd_aggregator_names)
from mmsquad.registry import AGGREGATORS


def surgery_methods(num_tasks: int) -> Dict[str, dict]:
    """``{name: optim wrapper config}``: gradient surgery with every
    aggregator of mmsquad (``PCGrad``, ...) and of torchjd whose packages
    are installed (``torchjd.<name>``)."""
    aggregators = {name: dict(type=name) for name in AGGREGATORS.module_dict}
    for name in torchjd_aggregator_names():
        aggregator = torchjd_aggregator_config(name, num_tasks)
        try:
            AGGREGATORS.build(aggregator)
        except ImportError:  # optional solver packages (cvxpy)
            continue
        aggregators[f'torchjd.{name}'] = aggregator
    return {name: dict(type='GradSurgeryOptimWrapper', aggregator=aggregator)
            for name, aggregator in aggregators.items()}


#: The loss balancers :func:`training_methods` offers, by short name.
BALANCERS = dict(
    UW=dict(type='TorchJDScalarization', scalarizer=dict(type='UW')),
    DWA=dict(type='DynamicWeightAverage'),
    GradNorm=dict(type='GradNorm'))


def training_methods(num_tasks: int) -> Dict[str, dict]:
    """``{name: changes}``: plain training (``plain``, equal weights, no
    surgery), every method of :func:`surgery_methods` and every balancer
    of :data:`BALANCERS` (``balancer.<name>``). ``changes`` has the
    ``optim_wrapper`` to merge into a config's and, for a balancer, the
    model's ``loss_balancer``."""
    methods = {'plain': dict(optim_wrapper=dict(type='OptimWrapper'))}
    for name, wrapper in surgery_methods(num_tasks).items():
        methods[name] = dict(optim_wrapper=wrapper)
    for name, balancer in BALANCERS.items():
        methods[f'balancer.{name}'] = dict(
            optim_wrapper=dict(type='OptimWrapper'), loss_balancer=balancer)
    return methods
