"""Every benchmark of ``make bench`` in turn, and one line of their
results at the end.

Runs each script of :data:`SCRIPTS` in a process of its own (its output
passed through and kept in ``work_dirs/bench/<script>.log``), takes the
``key=value`` pairs of its last line, and ends with one line holding all
of them, in order (a script that fails adds ``<script>=failed`` and makes
the exit status 1, after the others have run).

``python tools/analysis_tools/benchmark_all.py
[--only benchmark_squadnet.py ...]``
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
#: The benchmarks, in the order they run.
SCRIPTS = ('benchmark_deploy.py', 'benchmark_squadnet.py',
           'benchmark_architectures.py', 'benchmark_optim_methods.py',
           'benchmark_task_scaling.py', 'benchmark_pipeline.py')


def result_pairs(lines: List[str]) -> Dict[str, str]:
    """The ``key=value`` pairs of the last non-empty line, ``{}`` where
    that line is anything else."""
    text = [line for line in lines if line.strip()]
    if not text:
        return {}
    words = text[-1].split()
    if not all('=' in word and not word.startswith('=') for word in words):
        return {}
    return dict(word.split('=', 1) for word in words)


def run(script: str, log_dir: str) -> tuple:
    """``(exit status, result pairs)`` of one benchmark script; its output
    printed as it comes and kept in ``log_dir``."""
    lines = []
    with open(osp.join(log_dir, script.replace('.py', '.log')), 'w') as log, \
            subprocess.Popen([sys.executable, osp.join(HERE, script)],
                             cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            log.write(line)
            lines.append(line)
    return process.returncode, result_pairs(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', nargs='+', choices=SCRIPTS,
                        help='run these benchmarks only')
    parser.add_argument('--log-dir', default=osp.join(REPO, 'work_dirs',
                                                      'bench'))
    args = parser.parse_args()
    os.makedirs(args.log_dir, exist_ok=True)
    results, failed = {}, False
    for script in args.only or SCRIPTS:
        print(f'==> {script}', flush=True)
        status, pairs = run(script, args.log_dir)
        if status != 0:
            failed = True
            pairs = {osp.splitext(script)[0]: 'failed'}
        results.update(pairs)
    print(' '.join(f'{key}={value}' for key, value in results.items()))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
