"""mmsquad: multi-task learning with expert squads for OpenMMLab 2.0."""
import mmengine

from .version import __version__, check_mmengine_version

check_mmengine_version(mmengine.__version__)

__all__ = ['__version__']
