"""Optim wrappers: CPU mixed precision, gradient surgery."""
from .aggregator_surgery import (AggregatorSurgery, aggregator_names,
                                 build_aggregator)
from .cpu_amp_optimizer_wrapper import CPUAmpOptimWrapper
from .method_catalogue import (aggregator_config, surgery_methods,
                               training_methods)
from .grad_surgery import (DBMTL, CAGrad, ConFIG, GradSurgeryMixin, GradVac,
                           NashMTL, PCGrad, RandomOrderSurgery, cagrad,
                           config_update, gradvac, nash_mtl, pcgrad)
from .surgery_wrappers import (
    AggregatorOptimWrapper, AmpAggregatorOptimWrapper,
    CPUAmpAggregatorOptimWrapper, PCGradOptimWrapper, AmpPCGradOptimWrapper,
    CPUAmpPCGradOptimWrapper, GradVacOptimWrapper, AmpGradVacOptimWrapper,
    CPUAmpGradVacOptimWrapper, CAGradOptimWrapper, AmpCAGradOptimWrapper,
    CPUAmpCAGradOptimWrapper, NashMTLOptimWrapper, AmpNashMTLOptimWrapper,
    CPUAmpNashMTLOptimWrapper, ConFIGOptimWrapper, AmpConFIGOptimWrapper,
    CPUAmpConFIGOptimWrapper, DBMTLOptimWrapper, AmpDBMTLOptimWrapper,
    CPUAmpDBMTLOptimWrapper)

__all__ = [
    'AggregatorSurgery', 'aggregator_config', 'aggregator_names',
    'build_aggregator', 'surgery_methods', 'training_methods',
    'AggregatorOptimWrapper', 'AmpAggregatorOptimWrapper',
    'CPUAmpAggregatorOptimWrapper', 'CAGrad', 'CPUAmpOptimWrapper',
    'GradSurgeryMixin', 'GradVac', 'NashMTL', 'PCGrad', 'RandomOrderSurgery',
    'cagrad', 'gradvac', 'nash_mtl', 'pcgrad', 'PCGradOptimWrapper',
    'AmpPCGradOptimWrapper', 'CPUAmpPCGradOptimWrapper', 'GradVacOptimWrapper',
    'AmpGradVacOptimWrapper', 'CPUAmpGradVacOptimWrapper',
    'CAGradOptimWrapper', 'AmpCAGradOptimWrapper', 'CPUAmpCAGradOptimWrapper',
    'NashMTLOptimWrapper', 'AmpNashMTLOptimWrapper',
    'CPUAmpNashMTLOptimWrapper', 'ConFIG', 'config_update',
    'ConFIGOptimWrapper', 'AmpConFIGOptimWrapper', 'CPUAmpConFIGOptimWrapper',
    'DBMTL', 'DBMTLOptimWrapper',
    'AmpDBMTLOptimWrapper', 'CPUAmpDBMTLOptimWrapper'
]
