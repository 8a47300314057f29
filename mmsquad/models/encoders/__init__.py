"""Multi-task encoders: image -> features of every task, mixing tasks
between the stages of a backbone."""
from .base_encoder import BaseMultiTaskEncoder
from .branched_encoder import BranchedEncoder
from .cross_stitch import CrossStitchEncoder
from .mtan import MTANEncoder
from .nddr_cnn import NDDREncoder

__all__ = [
    'BaseMultiTaskEncoder', 'BranchedEncoder', 'CrossStitchEncoder',
    'MTANEncoder', 'NDDREncoder'
]
