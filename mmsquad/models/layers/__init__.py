"""Building blocks of expert squads."""
from .conv_norm_act import ConvNormAct
from .shuffle import channel_shuffle, shuffle_permutation
from .squad_block import PlainBlock, SquadBlock, SquadDownsample, SquadStem
from .squad_mlp import GroupedExperts, SquadMLP

__all__ = [
    'ConvNormAct', 'GroupedExperts', 'PlainBlock', 'SquadBlock',
    'SquadDownsample', 'SquadMLP', 'SquadStem', 'channel_shuffle',
    'shuffle_permutation'
]
