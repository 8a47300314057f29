"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT``."""
import argparse
import os

from toolkit.cli import PRECISION_CHOICES, CfgOptionsAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a multi-task model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--show-dir', help='save the prediction panels under this directory '
        '(inside the timestamped work directory)')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation: the config\'s tta_pipeline makes '
        'views of every image, its tta_model merges their predictions')
    parser.add_argument(
        '--partial', action='store_true',
        help='load only the checkpoint keys that fit the model (by default '
        'a checkpoint that does not fit exactly is refused)')
    parser.add_argument(
        '--trust-checkpoint', action='store_true',
        help='allow the checkpoint to run code while it loads (only for '
        'files from a trusted source)')
    parser.add_argument(
        '--precision', choices=PRECISION_CHOICES, default='fp32',
        help='numeric precision of the network (autocast; bf16: CPUs with '
        'avx512_bf16/AMX; fp16: CUDA)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, key=value pairs')
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
    import torch
    from mmengine.evaluator import DumpResults

    from mmsquad.utils import (finish_distributed, register_all_modules,
                               trust_checkpoint)
    from mmsquad.utils.precision import precision_dtype
    from toolkit.tool_setup import build_runner, load_tool_config, use_tta
    if not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl file, got {args.out}')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    dtype = precision_dtype(args.precision, device)  # fails before any work
    register_all_modules()
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    cfg.load_from = args.checkpoint
    if dtype != torch.float32:
        # mmengine's TestLoop autocasts with fp16=True, in the process's
        # autocast dtype for the device.
        torch.set_autocast_dtype(device, dtype)
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    if args.tta:
        use_tta(cfg, args.config)
    if args.trust_checkpoint:
        trust_checkpoint(args.checkpoint)
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(
        type='CheckpointFitHook', allow_partial=args.partial,
        source=args.checkpoint)]
    if args.show_dir is not None:
        vis_hook = cfg.get('default_hooks', {}).get('visualization')
        if vis_hook is None:
            raise KeyError('--show-dir needs `default_hooks.visualization` '
                           f'in {args.config}')
        vis_hook.draw = True
        vis_hook.test_out_dir = args.show_dir
    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    main()
