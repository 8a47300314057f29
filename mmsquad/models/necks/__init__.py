"""Necks."""
from .base_interaction_neck import BaseTaskInteractionNeck
from .expert_squad_neck import ExpertSquadNeck
from .mtinet_neck import MTINetNeck
from .padnet_neck import PADNetNeck

__all__ = [
    'BaseTaskInteractionNeck', 'ExpertSquadNeck', 'MTINetNeck', 'PADNetNeck'
]
