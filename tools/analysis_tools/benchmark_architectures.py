"""Training-step time and peak memory of the comparison architectures
against SquadNet-small, measured in the same run.

Every model is built from its PASCAL-Context config (the four tasks,
float32, the config's memory layout) and trained with Adam on the same
random ``--batch`` x3x``--size``^2 batch. Times: the median of ``--runs``
timed steps after ``--warmup``, the models' steps interleaved round by
round. Memory: in a fresh process per model, the growth of the resident
set's peak over one training step, after a small step has made the
optimizer state. Each
row gives both as a ratio to SquadNet-small's.

``python tools/analysis_tools/benchmark_architectures.py [--batch 2]
[--size 256]``
"""
import argparse
import os.path as osp
import sys
import time

import torch
from mmengine.config import Config

from mmsquad.registry import MODELS
from mmsquad.utils import register_all_modules

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.samples import random_samples  # noqa: E402
from toolkit.timing import (in_fresh_process, median_times,  # noqa: E402
                            peak_memory_growth)
from toolkit.train_steps import ARCHITECTURE_CONFIGS  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def build(name: str) -> torch.nn.Module:
    """The model of ``ARCHITECTURE_CONFIGS[name]`` in training mode
    (SquadNet-small, the reference, first)."""
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, ARCHITECTURE_CONFIGS[name]))
    return MODELS.build(cfg.model).train()


def training_step(model: torch.nn.Module, batch: int, size: int,
                  optim: torch.optim.Optimizer = None):
    """A call running one Adam step of ``model`` on a random batch (with
    its own optimizer unless ``optim`` is given)."""
    torch.manual_seed(0)
    inputs = torch.randn(batch, 3, size, size)
    samples = random_samples(model.tasks, batch, size)
    optim = optim or torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        loss = sum(v for k, v in model(inputs, samples, mode='loss').items()
                   if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        optim.step()
    return step


def step_memory(name: str, batch: int, size: int) -> int:
    """The peak resident-memory growth (bytes) of a training step of
    ``name``, after a small step has made the optimizer state (run it in a
    fresh process)."""
    model = build(name)
    optim = torch.optim.Adam(model.parameters(), lr=1e-4)
    training_step(model, 2, 64, optim)()
    return peak_memory_growth(training_step(model, batch, size, optim))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    memory = {name: in_fresh_process(step_memory, name, args.batch,
                                     args.size)
              for name in ARCHITECTURE_CONFIGS}
    start = time.perf_counter()
    steps = {name: training_step(build(name), args.batch, args.size)
             for name in ARCHITECTURE_CONFIGS}
    times = median_times(steps, args.warmup, args.runs)
    reference = next(iter(ARCHITECTURE_CONFIGS))
    print(f'training step on {args.batch}x3x{args.size}x{args.size}, '
          f'Adam, float32 (measured in {time.perf_counter() - start:.0f} s)')
    print(f'{"model":18s} {"step ms":>9s} {"time ratio":>10s} '
          f'{"peak MiB":>9s} {"memory ratio":>12s}')
    for name in ARCHITECTURE_CONFIGS:
        print(f'{name:18s} {times[name] * 1e3:9.0f} '
              f'{times[name] / times[reference]:10.2f} '
              f'{memory[name] / 2**20:9.0f} '
              f'{memory[name] / memory[reference]:12.2f}')


if __name__ == '__main__':
    main()
