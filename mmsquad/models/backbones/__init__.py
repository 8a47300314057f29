"""Backbones."""
from .squadnet import SquadNet

__all__ = ['SquadNet']
