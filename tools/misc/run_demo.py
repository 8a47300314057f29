"""`make demo`: render the demo data if absent, train configs/squad/demo.py
on it, evaluate the final checkpoint with tools/test.py (every metric, and
multitask/delta_m against the single-task references stored in
configs/squad/demo_single_task_references.json), and print the best
constant predictor's metrics beside it, the floor to beat."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join('configs', 'squad', 'demo.py')
DATA = osp.join('data', 'PASCAL_MT_demo')
WORK_DIR = osp.join('work_dirs', 'demo')


def run(*args: str) -> None:
    print('>>', ' '.join(args), flush=True)
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)


def ensure_demo_data() -> None:
    """Render the demo data into data/PASCAL_MT_demo unless it is there."""
    if not osp.isfile(osp.join(ROOT, DATA, 'ImageSets', 'Context',
                               'val.txt')):
        run('tools/misc/make_demo_data.py', '--out', DATA)


def main() -> None:
    ensure_demo_data()
    run('tools/train.py', CONFIG, '--work-dir', WORK_DIR)
    with open(osp.join(ROOT, WORK_DIR, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    run('tools/test.py', CONFIG, checkpoint, '--work-dir', WORK_DIR)
    run('tools/analysis_tools/trivial_baseline.py', CONFIG)


if __name__ == '__main__':
    main()
