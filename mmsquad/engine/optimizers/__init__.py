"""Optim wrappers: CPU mixed precision, gradient surgery."""
from .cpu_amp_optimizer_wrapper import CPUAmpOptimWrapper
from .grad_surgery_optim_wrapper import (GradSurgeryOptimWrapper,
                                         precision_wrapper)

__all__ = [
    'CPUAmpOptimWrapper', 'GradSurgeryOptimWrapper', 'precision_wrapper'
]
