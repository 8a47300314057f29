"""Optim wrappers with gradient surgery."""
from .grad_surgery import (CAGrad, GradSurgeryMixin, GradVac, NashMTL,
                           PCGrad, RandomOrderSurgery, cagrad, gradvac,
                           nash_mtl, pcgrad, register_surgery)

__all__ = ['CAGrad', 'GradSurgeryMixin', 'GradVac', 'NashMTL', 'PCGrad',
           'RandomOrderSurgery', 'cagrad', 'gradvac', 'nash_mtl', 'pcgrad',
           'register_surgery']
