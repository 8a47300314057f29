"""Plot the logged curves of runs, or report their training speed (the
multi-task counterpart of mmdet's and mmseg's ``analyze_logs.py``).

``python tools/analysis_tools/analyze_logs.py plot_curve RUN [RUN ...] --keys '*.loss_*' --out curves.png``
``python tools/analysis_tools/analyze_logs.py cal_train_time RUN [RUN ...]``

A RUN is a ``vis_data/scalars.json`` file, a run's timestamped directory
or a work dir (its latest run that trained). Keys are logged names or
shell patterns: per-task losses ``<task>.loss_<name>``, validation metrics
``<task>/<metric>``, ``multitask/delta_m``, ``loss``, ``lr``. Each key
gets a panel, each run a line: training records against the iteration,
validation records against the epoch (the iteration in iteration-based
runs).
"""
import argparse
import math
import os.path as osp
import sys
from typing import List

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.run_logs import curves, read_scalars, train_time  # noqa: E402


def plot_curve(args: argparse.Namespace) -> None:
    """One panel per matching key, one line per run, saved to --out."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    legend = args.legend or [_run_name(run) for run in args.runs]
    if len(legend) != len(args.runs):
        raise SystemExit(f'{len(legend)} legend entries for '
                         f'{len(args.runs)} runs')
    runs = [curves(read_scalars(run), args.keys) for run in args.runs]
    keys = sorted({key for found in runs for key in found})
    if not keys:
        raise SystemExit(f'no logged key matches {" ".join(args.keys)} in '
                         f'{" ".join(args.runs)}')
    columns = min(len(keys), 3)
    rows = math.ceil(len(keys) / columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False,
                                figsize=(4.5 * columns, 3.2 * rows))
    for axis, key in zip(axes.flat, keys):
        for name, found in zip(legend, runs):
            if key in found:
                label, xs, ys = found[key]
                axis.plot(xs, ys, marker='o' if len(xs) < 20 else None,
                          markersize=3, label=name)
                axis.set_xlabel(label)
        axis.set_title(key)
        axis.grid(alpha=0.3)
        axis.legend(fontsize='small')
    for axis in list(axes.flat)[len(keys):]:
        axis.set_visible(False)
    if args.title:
        figure.suptitle(args.title)
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    plt.close(figure)
    print(f'{len(keys)} curves ({", ".join(keys)}) of {len(runs)} runs '
          f'saved to {args.out}')


def cal_train_time(args: argparse.Namespace) -> None:
    """Per run: the mean iteration time, and per epoch its mean, slowest
    and fastest logged time."""
    for run in args.runs:
        epochs = train_time(read_scalars(run))
        print(f'-----Analyze train time of {run}-----')
        if not epochs:
            print('no training iteration logged')
            continue
        for epoch, times in epochs.items():
            print(f'epoch {epoch}: mean {times["mean"]:.4f} s/iter, '
                  f'slowest {times["slowest"]:.4f}, fastest '
                  f'{times["fastest"]:.4f} ({times["count"]} records)')
        means = [times['mean'] for times in epochs.values()]
        print(f'average iter time: {sum(means) / len(means):.4f} s/iter')


def _run_name(run: str) -> str:
    """A run's work dir name, for the legend."""
    path = osp.normpath(run)
    if path.endswith('scalars.json'):
        path = osp.dirname(osp.dirname(osp.dirname(path)))
    return osp.basename(path)


def parse_args(argv: List[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser('plot_curve', help='plot logged curves')
    plot.add_argument('runs', nargs='+', help='scalars.json files, run '
                      'directories or work dirs')
    plot.add_argument('--keys', nargs='+', default=['*.loss_*'],
                      help='logged keys or shell patterns (default: every '
                      "task's losses, '*.loss_*')")
    plot.add_argument('--legend', nargs='+', help='one name per run '
                      '(default: the work dirs\' names)')
    plot.add_argument('--title', help='title of the figure')
    plot.add_argument('--out', default='curves.png',
                      help='picture to write (default: curves.png)')
    plot.set_defaults(handler=plot_curve)
    speed = commands.add_parser('cal_train_time',
                                help='report the iteration times')
    speed.add_argument('runs', nargs='+', help='scalars.json files, run '
                       'directories or work dirs')
    speed.set_defaults(handler=cal_train_time)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    try:
        args.handler(args)
    except FileNotFoundError as error:
        raise SystemExit(str(error)) from None


if __name__ == '__main__':
    main()
