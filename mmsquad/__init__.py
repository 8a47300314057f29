"""mmsquad: multi-task learning with expert squads for OpenMMLab 2.0."""
from .utils.compat import install_compat
from .version import __version__

install_compat()

__all__ = ['__version__']
