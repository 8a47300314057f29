"""Utilities: module registration, compatibility fixes, CPU distribution."""
from .checkpoint import CheckpointError, trust_checkpoint
from .compat import install_compat
from .dist import finish_distributed, setup_cpu_distributed
from .setup_env import register_all_modules
from .work_dir_lock import WorkDirLock, WorkDirLockedError

__all__ = [
    'CheckpointError', 'finish_distributed', 'install_compat',
    'register_all_modules', 'setup_cpu_distributed', 'trust_checkpoint',
    'WorkDirLock', 'WorkDirLockedError'
]
