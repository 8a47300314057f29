"""Task metrics of the demo model in float32 and in bfloat16.

Trains ``configs/squad/demo.py`` on the demo data twice with the same seed,
in float32 and with ``--amp`` (CPU bfloat16 autocast, or CUDA float16),
then evaluates the float32 checkpoint in float32 and with ``--precision
bf16`` inference, and the mixed-precision checkpoint in float32. Prints one
markdown table (a row per run, a column per metric) for
``docs/benchmarks.md``. About twice ``make demo``'s time.
"""
import argparse
import glob
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))
from run_demo import CONFIG, ensure_demo_data, run  # noqa: E402

METRICS = ('semseg/mIoU', 'human_parts/mIoU', 'sal/maxF', 'normals/mean')


def last_test_metrics(work_dir: str) -> dict:
    """The metrics of the newest ``tools/test.py`` run in ``work_dir``."""
    logs = sorted(glob.glob(osp.join(ROOT, work_dir, '*', '*.json')))
    with open(logs[-1]) as f:
        return json.loads(f.readlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/precision')
    args = parser.parse_args()
    ensure_demo_data()
    rows = {}
    for name, extra in (('fp32', []), ('amp', ['--amp'])):
        work_dir = osp.join(args.work_dir, name)
        run('tools/train.py', CONFIG, '--work-dir', work_dir, *extra)
        with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        precisions = ('fp32', 'bf16') if name == 'fp32' else ('fp32', )
        for precision in precisions:
            test_dir = osp.join(work_dir, f'test_{precision}')
            run('tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir,
                '--precision', precision)
            rows[f'trained {name}, inference {precision}'] = \
                last_test_metrics(test_dir)
    print('| run | ' + ' | '.join(METRICS) + ' |')
    print('|---|' + '---|' * len(METRICS))
    for label, metrics in rows.items():
        print(f'| {label} | ' + ' | '.join(
            f'{metrics[k]:.2f}' for k in METRICS) + ' |')


if __name__ == '__main__':
    main()
