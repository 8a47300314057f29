"""Training-step time and peak memory as the number of tasks grows: 2, 4
and 8 tasks, SquadNet-small, the shared encoder (ResNet-18) and MTAN,
with plain training and with PCGrad.

Each model is its PASCAL-Context config with its tasks cut to the first
two or extended by copies (``semseg_2``, ``human_parts_2``, ...: the same
kind, head and loss; every task weighted 1), trained with SGD through
mmengine's ``train_step`` on one random ``--batch`` x3x``--size``^2 batch
(float32, the config's memory layout). Times: the median of ``--runs``
timed steps after ``--warmup``, the variants of one model interleaved
round by round. Memory: in a fresh process per variant, the growth of the
resident set's peak over one step, after a small step has made the
optimizer's and the method's state; a variant whose memory, estimated
from the variants measured before it (plain training linear in the
tasks, PCGrad at its last measured ratio to plain), would not fit the
available memory is skipped and named.

``python tools/analysis_tools/benchmark_task_scaling.py [--tasks 2 4 8]
[--size 256]``
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.memory import (available_memory, batch_that_fits,  # noqa: E402
                            gib)
from toolkit.timing import (in_fresh_process, median_times,  # noqa: E402
                            peak_memory_growth)
from toolkit.train_steps import (ARCHITECTURE_CONFIGS,  # noqa: E402
                                 build_train_step, many_tasks)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The models compared.
COMPARED = ('SquadNet-small', 'shared ResNet-18', 'MTAN')
#: The training methods compared (optim wrapper configs).
METHODS = {
    'plain': dict(type='OptimWrapper'),
    'PCGrad': dict(type='GradSurgeryOptimWrapper',
                   aggregator=dict(type='PCGrad')),
}
#: How many times plain training's memory a method is budgeted before a
#: ratio of it has been measured (PCGrad: about 1.5, docs/benchmarks.md).
SURGERY_MEMORY = 3.0


def build(model: str, method: str, tasks: int):
    """``step_at`` of ``model`` with ``tasks`` tasks trained by
    ``method``."""
    config = osp.join(REPO, ARCHITECTURE_CONFIGS[model])
    changes = many_tasks(Config.fromfile(config).model, tasks)
    return build_train_step(config, dict(optim_wrapper=METHODS[method]),
                            changes)[1]


def step_memory(model: str, method: str, tasks: int, batch: int,
                size: int) -> int:
    """The peak resident-memory growth (bytes) of one training step (run
    it in a fresh process)."""
    step_at = build(model, method, tasks)
    step_at(2, 64)()
    return peak_memory_growth(step_at(batch, size))


def estimate(memory: dict, tasks: int, method: str) -> float:
    """Bytes a step of ``tasks`` tasks with ``method`` is expected to take,
    from the steps of one model measured so far (``{(tasks, method):
    bytes}``): plain training linear in the tasks from the last plain
    step, a method at its ratio to plain training at the last task count
    that has both (:data:`SURGERY_MEMORY` without one); 0 before any."""
    plain = [(t, m) for (t, name), m in memory.items() if name == 'plain']
    if not plain:
        return 0.0
    last_tasks, last = plain[-1]
    need = last * tasks / last_tasks
    if method == 'plain':
        return need
    ratios = [m / memory[t, 'plain'] for (t, name), m in memory.items()
              if name == method and (t, 'plain') in memory]
    return need * (ratios[-1] if ratios else SURGERY_MEMORY)


def measure_memory(model: str, counts, batch: int, size: int) -> dict:
    """``{(tasks, method): bytes}`` of every variant of ``model`` that is
    expected to fit, each in a fresh process; the others are named."""
    memory = {}
    for tasks in counts:
        for method in METHODS:
            need = estimate(memory, tasks, method)
            if not batch_that_fits(need, 1):
                print(f'{model} {tasks} tasks {method}: needs about '
                      f'{gib(need)}, {gib(available_memory())} available; '
                      'skipped')
                continue
            memory[tasks, method] = in_fresh_process(
                step_memory, model, method, tasks, batch, size)
    return memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', type=int, nargs='+', default=[2, 4, 8])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--runs', type=int, default=2)
    args = parser.parse_args()
    # Memory first, while this process holds no model.
    memory = {model: measure_memory(model, sorted(args.tasks), args.batch,
                                    args.size)
              for model in COMPARED}
    print(f'training step on {args.batch}x3x{args.size}x{args.size}, SGD, '
          'float32')
    print(f'{"model":16s} {"tasks":>5s} {"method":8s} {"step ms":>9s} '
          f'{"peak MiB":>9s}')
    for model in COMPARED:
        times = median_times(
            {(tasks, method): build(model, method, tasks)(args.batch,
                                                          args.size)
             for tasks, method in memory[model]}, args.warmup, args.runs)
        for (tasks, method), seconds in times.items():
            print(f'{model:16s} {tasks:5d} {method:8s} {seconds * 1e3:9.0f} '
                  f'{memory[model][tasks, method] / 2**20:9.0f}')


if __name__ == '__main__':
    main()
