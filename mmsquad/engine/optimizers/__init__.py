"""Optim wrappers with gradient surgery."""
from .grad_surgery import (CAGrad, GradSurgeryMixin, GradVac, PCGrad,
                           RandomOrderSurgery, cagrad, gradvac, pcgrad,
                           register_surgery)

__all__ = ['CAGrad', 'GradSurgeryMixin', 'GradVac', 'PCGrad',
           'RandomOrderSurgery', 'cagrad', 'gradvac', 'pcgrad',
           'register_surgery']
