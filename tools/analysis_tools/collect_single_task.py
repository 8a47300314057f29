"""Collect the metrics of single-task runs into the JSON of single-task
references that ``MultiTaskMetric(single_task_references='<file>.json')``
reads to report ``multitask/delta_m``.

Example::

    python tools/analysis_tools/collect_single_task.py \
        work_dirs/single_task_semseg_pascal_ctx \
        work_dirs/single_task_human_parts_pascal_ctx \
        work_dirs/single_task_sal_pascal_ctx \
        work_dirs/single_task_normals_pascal_ctx \
        --out work_dirs/pascal_ctx_single_task_references.json
"""
import argparse
import json
import os.path as osp
import sys

from mmsquad.utils import register_all_modules

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.single_task_references import (
    SELECTIONS, collect_single_task_references)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='work dirs of single-task training runs')
    parser.add_argument('--out', required=True, help='the JSON to write')
    parser.add_argument(
        '--select', choices=SELECTIONS, default='best',
        help="each run's best evaluation by its task's main metric, or "
        'its last')
    parser.add_argument(
        '--all-metrics', action='store_true',
        help="store every metric of each task, not only its main one (the "
        "literature's delta_m uses the main ones)")
    args = parser.parse_args()
    register_all_modules()
    references = collect_single_task_references(args.work_dirs, args.select,
                                                args.all_metrics)
    with open(args.out, 'w') as f:
        json.dump(references, f, indent=2)
        f.write('\n')
    for key, value in references['metrics'].items():
        print(f'{key}: {value:.4f}')
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
