"""Reference implementations used as oracles by tests and benchmarks."""
from .squad_reference import ReferenceSquadNet

__all__ = ['ReferenceSquadNet']
