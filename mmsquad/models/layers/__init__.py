"""Building blocks of expert squads."""
from .checkpointing import run_layer
from .conv_norm_act import ConvNormAct, FoldedConvAct
from .memory_format import grad_in_input_format, memory_format_of
from .shuffle import shuffle_permutation
from .squad_block import PlainBlock, SquadBlock, SquadDownsample, SquadStem
from .squad_mlp import GroupedExperts, SquadMLP
from .task_interaction import (AttentionMask, FeaturePropagation,
                               ResidualDecoder, SpatialAttention,
                               TaskDistillation, concat_levels,
                               residual_blocks, upsample_like)

__all__ = [
    'AttentionMask', 'ConvNormAct', 'FeaturePropagation', 'FoldedConvAct',
    'GroupedExperts', 'PlainBlock', 'ResidualDecoder', 'SpatialAttention',
    'SquadBlock', 'SquadDownsample', 'SquadMLP', 'SquadStem',
    'TaskDistillation', 'concat_levels', 'grad_in_input_format',
    'memory_format_of', 'residual_blocks', 'run_layer',
    'shuffle_permutation', 'upsample_like'
]
