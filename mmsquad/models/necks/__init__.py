"""Necks."""
from .expert_squad_neck import ExpertSquadNeck

__all__ = ['ExpertSquadNeck']
