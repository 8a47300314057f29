"""Check every sample of a config's datasets before a long run.

``python tools/misc/check_dataset.py CONFIG [--workers N]``

Builds the train, val and test datasets of CONFIG (test only where it is
not the val set) and loads every sample as training does: files listed
twice, missing or empty, images that cannot be decoded, targets outside
their task kind's values (a label beyond the classes, a normal that is not
a unit vector, ...), targets of another size than their image, pipelines
that would turn images by their EXIF orientation but not their labels.
Prints every problem at once, counted by kind, and exits with 1 if there
is any.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.cli import CfgOptionsAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check every sample of a config\'s datasets')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--splits', nargs='+', default=['train', 'val',
                                                        'test'],
                        choices=['train', 'val', 'test'],
                        help='the dataloaders whose datasets are checked')
    parser.add_argument('--workers', type=int, default=2,
                        help='processes loading samples in parallel')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, key=value pairs, e.g. '
        'train_dataloader.dataset.data_root=data/mine')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # Imported after parsing: --help answers without loading torch.
    from toolkit.dataset_check import report, scan, split_datasets
    from toolkit.tool_setup import load_data_config
    cfg = load_data_config(args.config, args.cfg_options)
    problems = 0
    for split, dataset in split_datasets(cfg, args.splits).items():
        count, findings, rotated = scan(dataset, args.workers, name=split)
        print(report(split, count, findings, rotated), flush=True)
        problems += len(findings)
    if problems:
        sys.exit(f'check_dataset.py: {problems} problem'
                 f'{"" if problems == 1 else "s"} found')
    print('no problems found')


if __name__ == '__main__':
    main()
