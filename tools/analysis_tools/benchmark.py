"""Inference speed of a trained model on its test set, as mmseg's and
mmdet's ``benchmark.py`` measure it.

``python tools/analysis_tools/benchmark.py CONFIG CHECKPOINT
[--repeat-times N] [--max-iter 200] [--work-dir DIR]``

Builds the test data loader and the model (the checkpoint must fit it),
runs ``--max-iter`` batches through the data preprocessor and the
model's ``predict`` (the network and the tasks' post-processing, as
``tools/test.py`` runs them, without the metric), skips the first
``--num-warmup`` and prints the images per second of the rest; the
average over ``--repeat-times`` runs and their variance go to
``WORK_DIR/fps_<time>.json``. A test set smaller than ``--max-iter``
batches is run whole (mmseg's never reports one).
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.cli import PRECISION_CHOICES, CfgOptionsAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--log-interval', type=int, default=50,
                        help='print the speed every this many batches')
    parser.add_argument('--work-dir', help='write fps_<time>.json here '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--repeat-times', type=int, default=1)
    parser.add_argument('--max-iter', type=int, default=200,
                        help='batches timed in a run, warm-up included')
    parser.add_argument('--num-warmup', type=int, default=5,
                        help='first batches of a run left out of the speed')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--fold', action='store_true', help='fold BatchNorm '
                        'and channel shuffles into the convolutions first '
                        '(mmdet\'s --fuse-conv-bn)')
    parser.add_argument('--precision', choices=PRECISION_CHOICES,
                        default='fp32', help='numeric precision of the '
                        'network (bf16: CPUs with avx512_bf16/AMX; fp16: '
                        'CUDA)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, key=value pairs')
    args = parser.parse_args()
    for name in ('log_interval', 'repeat_times', 'max_iter', 'batch_size'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if not 0 <= args.num_warmup < args.max_iter:
        parser.error('--num-warmup must be at least 0 and less than '
                     '--max-iter')
    return args


def images_per_second(model, data_loader, max_iter: int, num_warmup: int,
                      log_interval: int, precision: str) -> float:
    """Time up to ``max_iter`` batches of ``data_loader`` through
    ``model``'s preprocessor and ``predict``; the images per second of
    those after the first ``num_warmup``.

    Raises:
        ValueError: When the loader has no batch after the warm-up.
    """
    import torch

    from mmsquad.utils.precision import autocast
    device = next(model.parameters()).device
    total = min(max_iter, len(data_loader))
    if total <= num_warmup:
        raise ValueError(f'the test set gives {len(data_loader)} batches, '
                         f'none after the {num_warmup} of the warm-up; '
                         'lower --num-warmup')
    images, seconds = 0, 0.0
    for index, data in enumerate(data_loader):
        if index == total:
            break
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad(), autocast(precision, device.type):
            data = model.data_preprocessor(data, False)
            model(**data, mode='predict')
        if device.type == 'cuda':
            torch.cuda.synchronize()
        if index < num_warmup:
            continue
        seconds += time.perf_counter() - start
        images += len(data['data_samples'])
        if (index + 1) % log_interval == 0:
            print(f'Done image [{index + 1:<3}/ {total}], '
                  f'fps: {images / seconds:.2f} img / s', flush=True)
    return images / seconds


def main() -> None:
    args = parse_args()
    # Imported after parsing: --help answers without loading torch.
    import numpy as np
    import torch
    from mmengine.fileio import dump
    from mmengine.model import revert_sync_batchnorm
    from mmengine.runner import Runner
    from mmengine.utils import mkdir_or_exist

    from mmsquad.apis import init_model
    from mmsquad.models.deploy import fold_batchnorm
    from mmsquad.utils import CheckpointError
    from toolkit.tool_setup import load_data_config
    try:
        cfg = load_data_config(args.config, args.cfg_options)
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        model = revert_sync_batchnorm(init_model(cfg, args.checkpoint,
                                                 device=device))
    except (CheckpointError, OSError) as error:
        sys.exit(f'benchmark.py: error: {error}')
    if args.fold:
        model = fold_batchnorm(model)
    work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    mkdir_or_exist(work_dir)
    loader_cfg = dict(cfg.test_dataloader, batch_size=args.batch_size)
    results = dict(config=args.config, unit='img / s', device=device,
                   precision=args.precision, batch_size=args.batch_size)
    runs = []
    for run in range(args.repeat_times):
        print(f'Run {run + 1}:')
        try:
            fps = images_per_second(
                model, Runner.build_dataloader(loader_cfg), args.max_iter,
                args.num_warmup, args.log_interval, args.precision)
        except ValueError as error:
            sys.exit(f'benchmark.py: error: {error}')
        print(f'Overall fps: {fps:.2f} img / s\n')
        results[f'overall_fps_{run + 1}'] = round(fps, 2)
        runs.append(fps)
    results['average_fps'] = round(float(np.mean(runs)), 2)
    results['fps_variance'] = round(float(np.var(runs)), 4)
    print(f'Average fps of {args.repeat_times} evaluations: '
          f'{results["average_fps"]}')
    print(f'The variance of {args.repeat_times} evaluations: '
          f'{results["fps_variance"]}')
    path = osp.join(work_dir,
                    f'fps_{time.strftime("%Y%m%d_%H%M%S")}.json')
    dump(results, path, indent=4)
    print(f'written to {path}')


if __name__ == '__main__':
    main()
