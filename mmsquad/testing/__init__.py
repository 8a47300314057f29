"""Reference implementations used as oracles by tests and benchmarks, and
random data for them."""
from .samples import random_samples, random_target
from .squad_reference import ReferenceSquadNet

__all__ = ['ReferenceSquadNet', 'random_samples', 'random_target']
