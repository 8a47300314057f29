"""`make demo`: render the demo data unless it is there (whole), train
configs/squad/demo.py on it, evaluate the final checkpoint with
tools/test.py (every metric, and multitask/delta_m against the single-task
references stored in configs/squad/demo_single_task_references.json), and
print the best constant predictor's metrics beside it, the floor to beat.

Exits non-zero when a headline number misses its bound (:data:`FLOORS`,
:data:`CEILINGS`, set from measured runs with a margin): a demo that stops
learning fails. ``--record`` stores the numbers, with the commit and
machine, in docs/demo_results.json (what the README quotes)."""
import argparse
import glob
import json
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join('configs', 'squad', 'demo.py')
DATA = osp.join('data', 'PASCAL_MT_demo')
WORK_DIR = osp.join('work_dirs', 'demo')
#: The demo set's images per split (tools/misc/make_demo_data.py's).
SPLITS = dict(train=320, val=100)
#: Test metrics the demo must reach (measured on a 2-core Intel Xeon:
#: semseg 50.7, parts 24.6, saliency maxF 84.4 mIoU, normals 10.8
#: degrees, delta_m +6.4%; the constant predictor: 20.4, 13.4, 31.1,
#: 37.3, -98%).
FLOORS = {'semseg/mIoU': 45.0, 'human_parts/mIoU': 18.0, 'sal/maxF': 75.0,
          'multitask/delta_m': 0.0}
#: Lower-is-better metrics' bounds.
CEILINGS = {'normals/mean': 14.0}


def run(*args: str) -> None:
    print('>>', ' '.join(args), flush=True)
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)


def ensure_demo_data() -> None:
    """Render the demo data into data/PASCAL_MT_demo unless every split
    holds its images (the quick start renders a smaller set)."""
    def size(split: str) -> int:
        path = osp.join(ROOT, DATA, 'ImageSets', 'Context', f'{split}.txt')
        if not osp.isfile(path):
            return 0
        with open(path) as f:
            return sum(1 for line in f if line.strip())

    if any(size(split) != count for split, count in SPLITS.items()):
        run('tools/misc/make_demo_data.py', '--out', DATA)


def last_test_metrics(work_dir: str) -> dict:
    """The metrics of the latest run logged under ``work_dir``."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    with open(logs[-1]) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--record', action='store_true',
                        help='store the numbers in docs/demo_results.json')
    args = parser.parse_args()
    # tools/ holds the toolkit package the tools share.
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from toolkit.demo_results import below_floors, record
    start = time.time()
    ensure_demo_data()
    run('tools/train.py', CONFIG, '--work-dir', WORK_DIR)
    with open(osp.join(ROOT, WORK_DIR, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    run('tools/test.py', CONFIG, checkpoint, '--work-dir', WORK_DIR)
    run('tools/analysis_tools/trivial_baseline.py', CONFIG)
    metrics = last_test_metrics(osp.join(ROOT, WORK_DIR))
    if args.record:
        record('demo', {key: metrics[key] for key in (
            *FLOORS, *CEILINGS, 'sal/mIoU')}, (time.time() - start) / 60)
    short = below_floors(metrics, FLOORS, CEILINGS)
    if short:
        sys.exit('demo: below its floors: ' + '; '.join(short))


if __name__ == '__main__':
    main()
