"""Config handling shared by ``tools/train.py`` and ``tools/test.py``: the
checks and settings a run gets before its runner is built."""
import importlib.util
import inspect
import logging
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from mmsquad.utils import register_all_modules
from mmsquad.utils.config import read_config
from mmsquad.utils.dist import setup_cpu_distributed, use_multitask_ddp
from mmsquad.utils.precision import cpu_supports_bfloat16


def load_data_config(config: str,
                     cfg_options: Optional[dict] = None) -> Config:
    """Read a config for a tool that builds its datasets without a runner
    (``check_dataset.py``, ``browse_dataset.py``): every module registered,
    the config's default scope current."""
    register_all_modules()
    cfg = read_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmsquad'))
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
    refuse_endless_epochs(cfg)
    refuse_empty_sources(cfg)
    refuse_unavailable_strategy(cfg)
    keep_workers_only_where_there_are_some(cfg)
    ensure_hook(cfg, 'TaskAgreementHook')
    if launcher != 'none':
        use_multitask_ddp(cfg)
    setup_cpu_distributed(cfg, launcher)
    return cfg


def ensure_hook(cfg: Config, hook_type: str) -> None:
    """Add ``dict(type=hook_type)`` to ``cfg.custom_hooks`` unless the
    config already has such a hook (in ``default_hooks`` or
    ``custom_hooks``)."""
    hooks = [*(cfg.get('default_hooks') or {}).values(),
             *(cfg.get('custom_hooks') or [])]
    if not any(h and h.get('type') in (hook_type, f'mmsquad.{hook_type}')
               for h in hooks):
        cfg.custom_hooks = [*cfg.get('custom_hooks', []),
                            dict(type=hook_type)]


def keep_workers_only_where_there_are_some(cfg: Config) -> None:
    """Turn ``persistent_workers`` off in every dataloader that has no
    workers (``num_workers=0``, the usual way to debug in one process):
    the base configs keep workers alive between epochs, as mmdet's and
    mmseg's do, and torch's DataLoader refuses that setting without
    workers. Nothing else changes: there are no workers to keep."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False


def refuse_endless_epochs(cfg: Config) -> None:
    """Stop before training when an epoch-based loop would draw from an
    infinite sampler: its first epoch would never end. mmseg's dataset
    configs use ``InfiniteSampler`` (for their iteration-based schedules).

    Raises:
        ValueError: Naming both settings and the fixes.
    """
    sampler = (cfg.get('train_dataloader') or {}).get('sampler') or {}
    loop = cfg.get('train_cfg') or {}
    sampler_type = str(sampler.get('type', ''))
    epoch_based = 'max_epochs' in loop or 'EpochBased' in str(
        loop.get('type', ''))
    if 'Infinite' in sampler_type and epoch_based:
        raise ValueError(
            f'train_dataloader.sampler is {sampler_type}, which never ends '
            f'an epoch, but train_cfg trains by epoch ({dict(loop)}): set '
            "train_dataloader.sampler=dict(type='DefaultSampler', "
            'shuffle=True), or an iteration-based train_cfg (max_iters)')


def refuse_empty_sources(cfg: Config) -> None:
    """Stop before training when mmdet's ``MultiSourceSampler`` would give a
    source no sample in a batch: it then searches that source forever for
    none, and the first batch never comes.

    Raises:
        ValueError: Naming the batch size, the ratios and each source's
            share of a batch.
    """
    sampler = (cfg.get('train_dataloader') or {}).get('sampler') or {}
    if 'MultiSourceSampler' not in str(sampler.get('type', '')):
        return
    batch_size = sampler.get('batch_size', 0)
    ratio = list(sampler.get('source_ratio') or [1])
    # Each source's share of a batch, as mmdet's sampler computes it.
    shares = [int(batch_size * r / sum(ratio)) for r in ratio]
    shares[0] = batch_size - sum(shares[1:])
    if min(shares) < 1:
        raise ValueError(
            f'train_dataloader.sampler: a batch of {batch_size} split by '
            f'source_ratio={ratio} gives the sources {shares} samples; '
            'every source needs at least one (MultiSourceSampler waits for '
            'it forever): raise batch_size (in the sampler and the '
            'dataloader) or change source_ratio')


def refuse_unavailable_strategy(cfg: Config) -> None:
    """Stop before the runner is built when FlexibleRunner's strategy
    cannot run here: FSDP without an accelerator (torch's FSDP refuses
    CPU-only machines), DeepSpeed without the ``deepspeed`` package.

    Raises:
        RuntimeError: Naming the strategy, the reason and what runs here.
    """
    kind = str((cfg.get('strategy') or {}).get('type', ''))
    if 'FSDP' in kind and not torch.cuda.is_available():
        raise RuntimeError(
            f'strategy {kind} needs a GPU: torch\'s FSDP refuses machines '
            'without an accelerator ("FSDP needs a non-CPU accelerator '
            'device"); on CPU train with DDPStrategy or the plain Runner')
    if 'DeepSpeed' in kind and importlib.util.find_spec('deepspeed') is None:
        raise RuntimeError(
            f'strategy {kind} needs the deepspeed package, which is not '
            'installed (pip install deepspeed, on a machine with CUDA)')


#: The precision variants of mmengine's plain optim wrapper that ``--amp``
#: switches between, as mmdet's and mmseg's tools do (CPU: mmsquad's).
PLAIN_WRAPPERS = ('OptimWrapper', 'AmpOptimWrapper', 'CPUAmpOptimWrapper')
#: Settings that only mixed precision on CUDA takes.
CUDA_AMP_SETTINGS = ('loss_scale', 'dtype')


def takes_amp_setting(wrapper_type: str) -> bool:
    """Whether the optim wrapper chooses its precision by an ``amp``
    argument (as :class:`~mmsquad.engine.GradSurgeryOptimWrapper`)."""
    from mmsquad.registry import OPTIM_WRAPPERS
    cls = OPTIM_WRAPPERS.get(wrapper_type)
    return cls is not None and 'amp' in inspect.signature(
        cls.__init__).parameters


def fall_back_from_cuda_amp(cfg: Config) -> Optional[str]:
    """Without CUDA, train a config written for CUDA mixed precision
    (``AmpOptimWrapper``, or ``amp=True``, as the paper configs train) in
    float32, so that the same config runs on any machine.

    Returns:
        A warning line for the log, or None when nothing changed.
    """
    wrapper = cfg.get('optim_wrapper')
    if wrapper is None or torch.cuda.is_available():
        return None
    current = wrapper.get('type', 'OptimWrapper')
    if current == 'AmpOptimWrapper':
        wrapper.type = 'OptimWrapper'
    elif wrapper.get('amp') and takes_amp_setting(current):
        wrapper.amp = False
    else:
        return None
    for key in CUDA_AMP_SETTINGS:
        wrapper.pop(key, None)
    return (f'{current} trains in CUDA mixed precision, which this machine '
            'lacks: training in float32 (--amp trains in bfloat16 on a CPU '
            'that has it)')


def enable_amp(cfg: Config) -> str:
    """Switch ``cfg.optim_wrapper`` to mixed precision for this machine:
    ``amp=True`` for a wrapper that takes it (gradient surgery); mmengine's
    ``AmpOptimWrapper`` (float16 with a dynamic loss scaler, or
    ``optim_wrapper.dtype='bfloat16'``) in place of ``OptimWrapper`` with
    CUDA, as mmdet's and mmseg's ``--amp`` does, and
    :class:`~mmsquad.engine.CPUAmpOptimWrapper` without.

    Returns:
        A line saying which was chosen, for the log.

    Raises:
        RuntimeError: Without CUDA on a CPU without bfloat16 support.
        ValueError: For an optim wrapper without a mixed-precision setting.
    """
    wrapper = cfg.optim_wrapper
    current = wrapper.get('type', 'OptimWrapper')
    cuda = torch.cuda.is_available()
    if not cuda and not cpu_supports_bfloat16():
        raise RuntimeError('--amp: no CUDA device is visible and this CPU '
                           'has no bfloat16 support (avx512_bf16 or AMX); '
                           'train in float32 (without --amp)')
    if takes_amp_setting(current):
        wrapper.amp = True
    elif current in PLAIN_WRAPPERS:
        wrapper.type = 'AmpOptimWrapper' if cuda else 'CPUAmpOptimWrapper'
    else:
        raise ValueError(f'--amp: optim wrapper {current} has no '
                         'mixed-precision setting; use OptimWrapper or '
                         'GradSurgeryOptimWrapper')
    if cuda:
        wrapper.setdefault('loss_scale', 'dynamic')
        return (f'--amp: CUDA {wrapper.get("dtype") or "float16"} autocast '
                f'with a dynamic loss scaler ({wrapper.type})')
    for key in CUDA_AMP_SETTINGS:
        wrapper.pop(key, None)
    return f'--amp: CPU bfloat16 autocast, no loss scaler ({wrapper.type})'


def use_tta(cfg: Config, config: str) -> None:
    """Test through the config's ``tta_pipeline`` and ``tta_model`` (the
    model wrapped in it), as mmseg's and mmdet's ``test.py --tta`` do.

    Raises:
        KeyError: When the config has no ``tta_model`` or
            ``tta_pipeline``.
        ValueError: When its ``tta_model`` is not a
            :class:`~mmsquad.models.MultiTaskTTAModel` (mmseg's and mmdet's
            dataset configs define theirs, which a config inheriting them
            keeps), or its test dataset has no pipeline of its own.
    """
    from mmsquad.models import MultiTaskTTAModel
    from mmsquad.registry import MODELS
    missing = [key for key in ('tta_model', 'tta_pipeline')
               if cfg.get(key) is None]
    if missing:
        raise KeyError(f'--tta needs {" and ".join(missing)} in {config} '
                       '(docs/train_test.md, "Test-time augmentation")')
    kind = cfg.tta_model.get('type')
    found = MODELS.get(kind) if isinstance(kind, str) else kind
    if not (isinstance(found, type) and
            issubclass(found, MultiTaskTTAModel)):
        raise ValueError(
            f'--tta: the tta_model of {config} is {kind!r}; a multi-task '
            "model merges its views through 'MultiTaskTTAModel' (mmseg's "
            "and mmdet's dataset configs define their own tta_model, which "
            'a config inheriting them keeps)')
    dataset = cfg.test_dataloader.dataset
    if 'pipeline' not in dataset:
        raise ValueError(
            f'--tta: the test dataset of {config} ({dataset.get("type")}) '
            'has no pipeline of its own (it wraps other datasets); give '
            'the datasets inside it the test-time views')
    for transform in views_missing_the_test_transforms(
            dataset.pipeline, cfg.tta_pipeline):
        print_log(
            f'--tta: the test pipeline of {config} makes its images with '
            f'{transform}, which no view of its tta_pipeline applies (a '
            'config that changed the test size and kept an inherited '
            'tta_pipeline tests at other sizes)', logger='current',
            level=logging.WARNING)
    dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def views_missing_the_test_transforms(test_pipeline: List[dict],
                                      tta_pipeline: List[dict]
                                      ) -> List[dict]:
    """The transforms of ``test_pipeline`` between loading the image and
    loading the first target (its resize) that no view of
    ``tta_pipeline``'s ``TestTimeAug`` applies."""
    views = [transform for step in tta_pipeline
             if step.get('type') == 'TestTimeAug'
             for choices in step['transforms'] for transform in choices]
    image_steps = []
    for step in test_pipeline[1:]:
        if 'Load' in str(step.get('type')):
            break
        image_steps.append(step)
    return [step for step in image_steps if step not in views]


def build_runner(cfg: Config):
    """Build the runner named by ``cfg.runner_type`` (default ``Runner``)."""
    from mmengine.runner import Runner

    from mmsquad.registry import RUNNERS
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
