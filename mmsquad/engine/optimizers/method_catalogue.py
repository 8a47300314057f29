"""Every gradient-surgery and loss-weighting method a config can name, as
config changes: for tests, benchmarks and experiments that compare them
all."""
from typing import Dict

from mmsquad.registry import OPTIM_WRAPPERS
from .aggregator_surgery import aggregator_names, build_aggregator


def aggregator_config(name: str, num_tasks: int) -> dict:
    """``dict(type=name, ...)`` with the arguments torchjd's aggregator
    ``name`` requires, for ``num_tasks`` tasks (CAGrad's paper radius,
    uniform Constant weights, ...)."""
    required = dict(CAGrad=dict(c=0.4),
                    Constant=dict(weights=[1.0 / num_tasks] * num_tasks),
                    FairGrad=dict(alpha=1.0), Krum=dict(n_byzantine=0),
                    NashMTL=dict(n_tasks=num_tasks),
                    TrimmedMean=dict(trim_number=1))
    return dict(type=name, **required.get(name, {}))


def surgery_methods(num_tasks: int) -> Dict[str, dict]:
    """``{name: optim wrapper config}``: every float32 surgery wrapper of
    mmsquad (``PCGrad``, ..., by its short name) and every torchjd
    aggregator whose packages are installed (``torchjd.<name>``)."""
    methods = {}
    for name, cls in OPTIM_WRAPPERS.module_dict.items():
        if cls.__module__.endswith('surgery_wrappers') and not \
                name.startswith(('Amp', 'CPUAmp', 'Aggregator')):
            methods[name[:-len('OptimWrapper')]] = dict(type=name)
    for name in aggregator_names():
        aggregator = aggregator_config(name, num_tasks)
        try:
            build_aggregator(aggregator)
        except ImportError:  # optional solver packages (cvxpy)
            continue
        methods[f'torchjd.{name}'] = dict(type='AggregatorOptimWrapper',
                                          aggregator=aggregator)
    return methods


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
