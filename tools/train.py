"""Train a multi-task model: ``python tools/train.py CONFIG [options]``."""
import argparse
import os
import sys
from contextlib import nullcontext

from toolkit.cli import CfgOptionsAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a multi-task model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true',
        help='automatic mixed precision: float16 with a loss scaler on '
        'CUDA, bfloat16 autocast on a CPU with bfloat16 units')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by the real batch size against '
        '`auto_scale_lr.base_batch_size`')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a path, resume from the '
        'latest checkpoint in the work directory')
    parser.add_argument(
        '--trust-checkpoint', action='store_true',
        help='allow the --resume or load_from checkpoint to run code while '
        'it loads (only for files from a trusted source)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, key=value pairs, e.g. '
        'train_cfg.max_iters=10 "optim_wrapper.optimizer.lr=1e-3"')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    # Imported after parsing: --help answers without loading torch.
    from mmsquad.utils import (finish_distributed, register_all_modules,
                               trust_checkpoint)
    from mmsquad.utils.checkpoint import latest_checkpoint
    from mmsquad.utils.work_dir_lock import WorkDirLock, WorkDirLockedError
    from toolkit.tool_setup import (build_runner, enable_amp,
                                    fall_back_from_cuda_amp,
                                    load_tool_config)
    register_all_modules()
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    amp_choice = enable_amp(cfg) if args.amp else None
    amp_fallback = None if args.amp else fall_back_from_cuda_amp(cfg)
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise KeyError('--auto-scale-lr needs '
                           '`auto_scale_lr.base_batch_size` in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = latest_checkpoint(cfg.work_dir)
    elif args.resume is not None:
        if not os.path.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume checkpoint {args.resume} does not exist')
        cfg.resume = True
        cfg.load_from = args.resume
    if cfg.get('resume'):
        # A resumed run continues the same model: every key must fit.
        cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(
            type='CheckpointFitHook',
            source=None if args.resume == 'auto' else cfg.get('load_from'))]
    elif cfg.get('load_from'):
        # Fine-tuning from another model's weights: the keys that fit load
        # (a warning names the rest); one of another architecture, whose
        # backbone takes nothing from it, is refused.
        cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(
            type='CheckpointFitHook', allow_partial=True,
            source=cfg.load_from)]
    if args.trust_checkpoint and cfg.get('load_from'):
        trust_checkpoint(cfg.load_from)
    # An epoch ending in a batch BatchNorm cannot train on stops at once.
    cfg.custom_hooks = [*cfg.get('custom_hooks', []),
                        dict(type='SingleSampleBatchHook')]
    # One training per work dir, held by the first process of a job.
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    lock = WorkDirLock(cfg.work_dir) if rank == '0' else nullcontext()
    try:
        with lock:
            runner = build_runner(cfg)
            if amp_choice:
                runner.logger.info(amp_choice)
            if amp_fallback:
                runner.logger.warning(amp_fallback)
            runner.train()
            del runner
    except WorkDirLockedError as error:
        sys.exit(f'train.py: error: {error}')
    finish_distributed()


if __name__ == '__main__':
    main()
