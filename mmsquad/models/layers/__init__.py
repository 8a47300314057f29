"""Building blocks of expert squads."""
from .checkpointing import run_layer
from .conv_norm_act import ConvNormAct, FoldedConvAct
from .memory_format import grad_in_input_format, memory_format_of
from .shuffle import shuffle_permutation
from .squad_block import PlainBlock, SquadBlock, SquadDownsample, SquadStem
from .squad_mlp import GroupedExperts, SquadMLP

__all__ = [
    'ConvNormAct', 'FoldedConvAct', 'GroupedExperts', 'PlainBlock',
    'SquadBlock', 'SquadDownsample', 'SquadMLP', 'SquadStem',
    'grad_in_input_format', 'memory_format_of', 'run_layer',
    'shuffle_permutation'
]
