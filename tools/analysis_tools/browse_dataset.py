"""Look at a config's training samples as the model sees them.

``python tools/analysis_tools/browse_dataset.py CONFIG [--output-dir DIR]
[--not-show]``

Runs the training pipeline (augmentation included) and draws, for each
sample, the image and every task's target over it (``--overlay``), as
mmdet's and mmseg's ``browse_dataset.py`` do: a label map that does not
line up with its image shows at once.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.cli import CfgOptionsAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Browse the augmented samples of a dataset')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--phase', default='train',
                        choices=['train', 'val', 'test'],
                        help='the dataloader whose samples are drawn')
    parser.add_argument('--output-dir', default=None,
                        help='write the panels here')
    parser.add_argument('--not-show', action='store_true',
                        help='do not show the panels in a window')
    parser.add_argument('--show-interval', type=float, default=2,
                        help='seconds each shown panel stays')
    parser.add_argument('--num-samples', '-n', type=int, default=None,
                        help='draw this many samples (default: all)')
    parser.add_argument('--overlay', type=float, default=0.5,
                        help="the image's weight under every target (0: "
                        'the targets alone)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, key=value pairs')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # Imported after parsing: --help answers without loading torch.
    import mmcv
    from rich.progress import track

    from mmsquad.datasets.dataset_tasks import dataset_tasks
    from mmsquad.registry import DATASETS, VISUALIZERS
    from mmsquad.tasks import build_tasks
    from toolkit.tool_setup import load_data_config
    cfg = load_data_config(args.config, args.cfg_options)
    dataset = DATASETS.build(cfg[f'{args.phase}_dataloader'].dataset)
    tasks = build_tasks(dataset_tasks(dataset) or {})
    visualizer = VISUALIZERS.build(dict(
        cfg.get('visualizer', dict(type='MultiTaskVisualizer')),
        vis_backends=None, name='browse_dataset'))
    visualizer.dataset_meta = dataset.metainfo
    count = len(dataset) if args.num_samples is None else min(
        args.num_samples, len(dataset))
    for index in track(range(count), description='Browsing'):
        item = dataset[index]
        sample = item['data_samples']
        image = item['inputs'].numpy().transpose(1, 2, 0)[..., ::-1]
        panel = visualizer.make_panel(image.copy(), sample, tasks,
                                      overlay=args.overlay)
        name = osp.splitext(osp.basename(
            str(sample.metainfo.get('img_path', index))))[0]
        if args.output_dir:
            mmcv.imwrite(panel[..., ::-1],
                         osp.join(args.output_dir, f'{index:05d}_{name}.png'))
        if not args.not_show:
            visualizer.show(panel, win_name=name,
                            wait_time=args.show_interval)


if __name__ == '__main__':
    main()
