"""Train the single-task references of a multi-task config and store their
metrics for ``multitask/delta_m``.

For every task of CONFIG, trains the single-task config derived from it
(:func:`mmsquad.utils.single_task.single_task_config`: the same network,
or with ``--trunk shared_encoder`` the trunk without squads, with that
task's head only, the same data, schedule and seed) with
``tools/train.py``, then collects the runs with
``tools/analysis_tools/collect_single_task.py``'s logic into ``--out``.

Example (the demo's references, about 10 minutes on 2 CPU cores)::

    python tools/misc/make_single_task_references.py configs/squad/demo.py \
        --out configs/squad/demo_single_task_references.json
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

from mmengine.config import Config

from mmsquad.utils import register_all_modules

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.single_task_references import (
    SELECTIONS, collect_single_task_references)
from toolkit.single_task import single_task_config  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the multi-task config')
    parser.add_argument('--out', required=True, help='the JSON to write')
    parser.add_argument('--work-dir', help='where the runs go (default: '
                        'work_dirs/<config name>_single_task)')
    parser.add_argument('--trunk', choices=('same', 'shared_encoder'),
                        default='same',
                        help='the single-task trunk (see single_task_config)')
    parser.add_argument('--select', choices=SELECTIONS, default='best')
    parser.add_argument('--all-metrics', action='store_true',
                        help='store every metric, not only the main ones')
    args = parser.parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    name = osp.splitext(osp.basename(args.config))[0]
    work_root = args.work_dir or osp.join('work_dirs', f'{name}_single_task')
    work_dirs = []
    for task in cfg.model.heads:
        work_dir = osp.join(work_root, task)
        os.makedirs(work_dir, exist_ok=True)
        config = osp.join(work_dir, f'single_task_{task}_{name}.py')
        single_task_config(cfg, task, args.trunk).dump(config)
        subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'),
                        config, '--work-dir', work_dir], check=True)
        work_dirs.append(work_dir)
    references = collect_single_task_references(work_dirs, args.select,
                                                args.all_metrics)
    references.update(config=args.config, trunk=args.trunk)
    with open(args.out, 'w') as f:
        json.dump(references, f, indent=2)
        f.write('\n')
    print(json.dumps(references['metrics'], indent=2))


if __name__ == '__main__':
    main()
