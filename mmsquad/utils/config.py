"""Reading configs, also those of installed OpenMMLab packages."""
import os.path as osp
from typing import Optional

from mmengine.config import Config


def read_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """Read ``config`` and apply ``--cfg-options`` overrides.

    ``config`` is a path, or ``<package>::<path>`` for a config file of an
    installed OpenMMLab package (``mmdet::retinanet/...``), found where
    mmengine finds such ``_base_`` files (mmengine's ``Config.fromfile``
    takes the form only in ``_base_``).

    Raises:
        FileNotFoundError: When ``config`` does not exist.
    """
    config = resolve_package_path(config)
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def resolve_package_path(config: str) -> str:
    """The file of ``<package>::<path>`` in the installed package's config
    tree (``<package>/.mim/configs/<path>``); other paths unchanged."""
    if '::' not in config:
        return config
    from mmengine.utils import get_installed_path
    package, path = config.split('::', 1)
    return osp.join(get_installed_path(package), '.mim', 'configs', path)
