"""Optim wrappers: CPU mixed precision, gradient surgery."""
from .aggregator_surgery import (AggregatorSurgery, aggregator_names,
                                 build_aggregator)
from .cpu_amp_optimizer_wrapper import CPUAmpOptimWrapper
from .grad_surgery import (CAGrad, GradSurgeryMixin, GradVac, NashMTL, PCGrad,
                           RandomOrderSurgery, cagrad, gradvac, nash_mtl,
                           pcgrad)
from .surgery_wrappers import (
    AggregatorOptimWrapper, AmpAggregatorOptimWrapper,
    CPUAmpAggregatorOptimWrapper, PCGradOptimWrapper, AmpPCGradOptimWrapper,
    CPUAmpPCGradOptimWrapper, GradVacOptimWrapper, AmpGradVacOptimWrapper,
    CPUAmpGradVacOptimWrapper, CAGradOptimWrapper, AmpCAGradOptimWrapper,
    CPUAmpCAGradOptimWrapper, NashMTLOptimWrapper, AmpNashMTLOptimWrapper,
    CPUAmpNashMTLOptimWrapper)

__all__ = [
    'AggregatorSurgery', 'aggregator_names', 'build_aggregator',
    'AggregatorOptimWrapper', 'AmpAggregatorOptimWrapper',
    'CPUAmpAggregatorOptimWrapper', 'CAGrad', 'CPUAmpOptimWrapper',
    'GradSurgeryMixin', 'GradVac', 'NashMTL', 'PCGrad', 'RandomOrderSurgery',
    'cagrad', 'gradvac', 'nash_mtl', 'pcgrad', 'PCGradOptimWrapper',
    'AmpPCGradOptimWrapper', 'CPUAmpPCGradOptimWrapper', 'GradVacOptimWrapper',
    'AmpGradVacOptimWrapper', 'CPUAmpGradVacOptimWrapper',
    'CAGradOptimWrapper', 'AmpCAGradOptimWrapper', 'CPUAmpCAGradOptimWrapper',
    'NashMTLOptimWrapper', 'AmpNashMTLOptimWrapper',
    'CPUAmpNashMTLOptimWrapper'
]
