"""Config handling shared by ``tools/train.py`` and ``tools/test.py``."""
import os.path as osp
from typing import Optional

from mmengine.config import Config

from .dist import setup_cpu_distributed


def read_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """Read ``config`` and apply ``--cfg-options`` overrides.

    Raises:
        FileNotFoundError: When ``config`` does not exist.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_tool_config(config: str,
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None,
                     launcher: str = 'none') -> Config:
    """Read a config the way mmdet's tools do and prepare its launcher.

    Args:
        config: Path of the config file.
        cfg_options: ``--cfg-options`` overrides.
        work_dir: ``--work-dir``; defaults to ``./work_dirs/<config name>``.
        launcher: ``--launcher``.

    Returns:
        The config, ready for ``Runner.from_cfg``.

    Raises:
        FileNotFoundError: When ``config`` does not exist.
    """
    cfg = read_config(config, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    setup_cpu_distributed(cfg, launcher)
    return cfg


def amp_variant(optim_wrapper: str) -> str:
    """The mixed-precision optim wrapper matching ``optim_wrapper``:
    ``OptimWrapper`` -> ``AmpOptimWrapper``, ``PCGradOptimWrapper`` ->
    ``AmpPCGradOptimWrapper``; an ``Amp...`` type stays.

    Raises:
        KeyError: When no mixed-precision variant is registered.
    """
    from mmsquad.registry import OPTIM_WRAPPERS
    if optim_wrapper.startswith('Amp'):
        return optim_wrapper
    variant = f'Amp{optim_wrapper}'
    if OPTIM_WRAPPERS.get(variant) is None:
        raise KeyError(f'--amp: optim wrapper {optim_wrapper} has no '
                       f'mixed-precision variant {variant}')
    return variant


def build_runner(cfg: Config):
    """Build the runner named by ``cfg.runner_type`` (default ``Runner``)."""
    from mmengine.runner import Runner

    from mmsquad.registry import RUNNERS
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
