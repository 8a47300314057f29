"""Models: backbones, necks, heads, losses and the multi-task model."""
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .encoders import *  # noqa: F401,F403
from .feature_spec import SquadFeatureSpec
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .multitask import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .wrappers import *  # noqa: F401,F403

__all__ = ['SquadFeatureSpec']
