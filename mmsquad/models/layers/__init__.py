"""Building blocks of expert squads."""
from .checkpointing import run_layer
from .conv_norm_act import ConvNormAct
from .memory_format import grad_in_input_format, memory_format_of
from .shuffle import channel_shuffle, shuffle_permutation
from .squad_block import PlainBlock, SquadBlock, SquadDownsample, SquadStem
from .squad_mlp import GroupedExperts, SquadMLP

__all__ = [
    'ConvNormAct', 'GroupedExperts', 'PlainBlock', 'SquadBlock',
    'SquadDownsample', 'SquadMLP', 'SquadStem', 'channel_shuffle',
    'grad_in_input_format', 'memory_format_of', 'run_layer',
    'shuffle_permutation'
]
