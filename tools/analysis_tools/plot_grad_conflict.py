"""Plot the gradient-conflict curves of training runs into one PNG.

``python tools/analysis_tools/plot_grad_conflict.py WORKDIR [WORKDIR ...]``

Each work dir is a run trained with ``GradConflictHook``; its curves are
read from the latest ``<timestamp>/vis_data/scalars.json``.
"""
import argparse
import os.path as osp
import sys

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.run_logs import read_scalars  # noqa: E402
from toolkit.grad_conflict_plot import (conflict_curves,
                                                      iteration_label,
                                                      plot_conflict_curves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+', help='work dirs of runs')
    parser.add_argument('--labels', nargs='+',
                        help='one label per run (default: the dir names); '
                        'runs with one label are drawn as one band')
    parser.add_argument('--group', default='backbone',
                        help='parameter group, e.g. backbone.stages.2')
    parser.add_argument('--window', type=int, default=1,
                        help='draw the moving average over this many '
                        'consecutive measurements (default: 1, none)')
    parser.add_argument('--out', default='grad_conflict.png')
    args = parser.parse_args()
    labels = args.labels or [osp.basename(osp.normpath(d))
                             for d in args.work_dirs]
    if len(labels) != len(args.work_dirs):
        parser.error(f'{len(labels)} labels for {len(args.work_dirs)} runs')
    runs = {}  # work dirs with one label (seeds) make one band
    for label, work_dir in zip(labels, args.work_dirs):
        runs.setdefault(label, []).append(
            conflict_curves(read_scalars(work_dir), args.group, args.window))
    plot_conflict_curves(runs, args.out, args.group,
                         iteration_label(args.window))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
