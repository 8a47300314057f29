"""Gradient aggregators: the per-task gradients of the shared parameters
-> one gradient, in the ``AGGREGATORS`` registry (one file per method;
torchjd's under the ``torchjd`` scope)."""
from .base import BaseAggregator, RandomTaskOrder
from .cagrad import CAGrad, cagrad
from .con_fig import ConFIG, config_update
from .db_mtl import DBMTL
from .gradvac import GradVac, gradvac
from .nash_mtl import NashMTL, nash_mtl
from .pcgrad import PCGrad, pcgrad
from .torchjd_aggregators import (TorchJDAggregator,
                                  torchjd_aggregator_config,
                                  torchjd_aggregator_names)

__all__ = [
    'BaseAggregator', 'CAGrad', 'ConFIG', 'DBMTL', 'GradVac', 'NashMTL',
    'PCGrad', 'RandomTaskOrder', 'TorchJDAggregator', 'cagrad',
    'config_update', 'gradvac', 'nash_mtl', 'pcgrad',
    'torchjd_aggregator_config', 'torchjd_aggregator_names'
]
