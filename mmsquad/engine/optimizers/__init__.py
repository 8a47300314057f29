"""Optim wrappers: CPU mixed precision, gradient surgery."""
from .cpu_amp_optimizer_wrapper import CPUAmpOptimWrapper
from .grad_surgery import (CAGrad, GradSurgeryMixin, GradVac, NashMTL,
                           PCGrad, RandomOrderSurgery, cagrad, gradvac,
                           nash_mtl, pcgrad, register_surgery)

__all__ = ['CAGrad', 'CPUAmpOptimWrapper', 'GradSurgeryMixin', 'GradVac',
           'NashMTL', 'PCGrad',
           'RandomOrderSurgery', 'cagrad', 'gradvac', 'nash_mtl', 'pcgrad',
           'register_surgery']
