"""Distributed launch on machines without CUDA.

mmengine's launchers call ``torch.cuda.set_device`` and its runner wraps the
model with ``device_ids=[local_rank]``; both fail without CUDA. On such a
machine mmsquad starts the gloo process group itself (the runner then skips
its own initialisation) and asks for a DDP wrapper without device ids. On
GPUs nothing changes.

Neither mmengine nor torch destroys the process group at exit; a gloo group
left alive then aborts the process during interpreter shutdown ("terminate
called without an active exception"), so the tools end with
:func:`finish_distributed`.
"""
import gc
import inspect
import os

import torch
import torch.distributed as dist
from mmengine.config import Config
from torch.nn.parallel import DistributedDataParallel

# Environment variables that carry (rank, world size, local rank) per launcher.
_LAUNCHER_ENV = {
    'pytorch': ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'),
    'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID'),
    'mpi': ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE',
            'OMPI_COMM_WORLD_LOCAL_RANK'),
}


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Start gloo DDP for ``launcher`` when CUDA is not available.

    Args:
        cfg: The config; its model wrapper (see :func:`use_multitask_ddp`)
            gets ``device_ids=None``.
        launcher: One of ``none``, ``pytorch``, ``slurm``, ``mpi``.

    Returns:
        True when a CPU process group was started here.

    Raises:
        KeyError: When an environment variable the launcher sets is missing.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher not in _LAUNCHER_ENV:
        raise ValueError(f'unknown launcher {launcher!r}; expected one of '
                         f'none, {", ".join(_LAUNCHER_ENV)}')
    rank_key, world_key, local_key = _LAUNCHER_ENV[launcher]
    missing = [k for k in (rank_key, world_key) if k not in os.environ]
    if missing:
        raise KeyError(f'--launcher {launcher} needs the environment '
                       f'variables {missing}; start the job with the launcher')
    os.environ['RANK'] = os.environ[rank_key]
    os.environ['WORLD_SIZE'] = os.environ[world_key]
    os.environ['LOCAL_RANK'] = os.environ.get(local_key, '0')
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    os.environ.setdefault('MASTER_PORT', '29500')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    use_multitask_ddp(cfg)
    cfg.model_wrapper_cfg['device_ids'] = None
    if _ddp_strategy(cfg):  # FlexibleRunner: it wraps there
        cfg.strategy.model_wrapper['device_ids'] = None
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg',
                                              {})['backend'] = 'gloo'
    return True


def use_multitask_ddp(cfg: Config) -> None:
    """Wrap the model for DDP with
    :class:`~mmsquad.models.MultiTaskDistributedDataParallel` (which hands
    gradient surgery the per-task losses) where the config names no other
    wrapper, with mmengine's default settings (no buffer sync in the
    forward pass: :func:`no_forward_buffer_sync`; the config's
    ``find_unused_parameters``): in ``model_wrapper_cfg`` (the Runner's)
    and in ``strategy.model_wrapper`` (FlexibleRunner's)."""
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    # Scoped: mmengine's runner looks the type up in the root registry.
    wrapper.setdefault('type', 'mmsquad.MultiTaskDistributedDataParallel')
    if not {'broadcast_buffers', 'forward_sync_buffers'} & set(wrapper):
        wrapper.update(no_forward_buffer_sync())
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if _ddp_strategy(cfg):
        strategy = dict(cfg.strategy)
        buffers = {key: value for key, value in wrapper.items()
                   if key in ('broadcast_buffers', 'forward_sync_buffers')}
        strategy['model_wrapper'] = dict(
            dict(type=wrapper['type'], **buffers),
            **(strategy.get('model_wrapper') or {}))
        cfg.strategy = strategy


def no_forward_buffer_sync() -> dict:
    """The DDP argument that turns off the buffer sync of every forward
    pass, as mmengine's runner does: ``forward_sync_buffers=False`` where
    this torch takes it (from 2.13, which deprecates ``broadcast_buffers``
    and warns on every rank), ``broadcast_buffers=False`` before.

    The two differ at construction only: ``forward_sync_buffers=False``
    still copies rank 0's buffers to every rank once, which changes nothing
    here (every rank builds or loads the same model).
    """
    accepted = inspect.signature(DistributedDataParallel.__init__).parameters
    if 'forward_sync_buffers' in accepted:
        return dict(forward_sync_buffers=False)
    return dict(broadcast_buffers=False)


def _ddp_strategy(cfg: Config) -> bool:
    """Whether the config trains with FlexibleRunner's ``DDPStrategy``
    (other strategies wrap the model their own way)."""
    strategy = cfg.get('strategy') or {}
    return str(strategy.get('type', '')).split('.')[-1] == 'DDPStrategy'


def finish_distributed() -> None:
    """Free what still uses the process group, wait for every rank, then
    destroy the default process group.

    Does nothing outside distributed runs. The tools call it after training
    or testing so that no rank exits while a collective is still pending.
    The runner and its loops refer to each other, so the DDP wrapper (and
    its reducer, which holds the gloo group) would otherwise live on as
    cyclic garbage until interpreter shutdown, where it is destroyed in an
    arbitrary order with the C++ runtime; it is collected here first.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
