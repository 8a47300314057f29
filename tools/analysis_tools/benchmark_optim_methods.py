"""Training-step time and peak memory of SquadNet-small with every
gradient-aggregation and loss-weighting method, against plain training in
the same run.

The model of ``configs/squad/pascal_ctx.py`` (float32, channels-last) on
one random ``--batch`` x3x``--size``^2 batch: one mmengine ``train_step``
(forward, the method's backward, SGD step) per call. Times: the median of
``--runs`` timed steps after ``--warmup``, the methods interleaved round by
round. Memory: in a fresh process per method, the growth of the resident
set's peak over one step, after a small step has made the optimizer's and
the method's state. Ratios are to plain training (``OptimWrapper``).

torchjd's ``autogram`` engine computes the Gram matrix of the per-task
gradients without materialising them, for the aggregators whose weights
depend on it alone; before timing it, the script compares its Gram matrix
with that of the per-task gradients on the model's shared parameters and
reports the difference: where they differ (modules that use a child's
weights directly, as SquadNet's channel-shuffle folding does, are outside
what the engine tracks), autogram cannot serve and is not timed.

The last line is ``surgery_time_ratio=<t> surgery_memory_ratio=<m>``:
PCGrad's step time and memory over plain training's (when PCGrad is
measured).

``python tools/analysis_tools/benchmark_optim_methods.py [--size 256]
[--methods PCGrad torchjd.UPGrad ...]``
"""
import argparse
import os.path as osp
import sys

import torch

from mmsquad.engine.task_gradients import gram_matrix, per_task_gradients
from mmsquad.models.utils import task_losses
from mmsquad.utils import register_all_modules

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.method_catalogue import training_methods  # noqa: E402
from toolkit.samples import random_samples  # noqa: E402
from toolkit.timing import (in_fresh_process, median_times,  # noqa: E402
                            peak_memory_growth)
from toolkit.train_steps import build_train_step  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'squad', 'pascal_ctx.py')
#: The method whose cost the last line reports as the surgery's.
SURGERY = 'PCGrad'


def methods() -> dict:
    """``{name: changes}``: :func:`~mmsquad.engine.training_methods`."""
    register_all_modules()
    return training_methods(num_tasks=4)


def step_memory(name: str, batch: int, size: int) -> int:
    """The peak resident-memory growth (bytes) of a training step with
    method ``name``, after a small step has made the optimizer's and the
    method's state (run it in a fresh process)."""
    _, step_at = build_train_step(CONFIG, methods()[name])
    step_at(2, 64)()
    return peak_memory_growth(step_at(batch, size))


def autogram_difference(batch: int, size: int) -> float:
    """Max relative difference between the Gram matrix torchjd's autogram
    engine computes over the shared modules and that of the per-task
    gradients of the shared parameters (on the same batch), in NCHW (the
    engine's vmap takes no channels-last tensors)."""
    from torchjd.autogram import Engine
    model, _ = build_train_step(CONFIG, methods()['plain'],
                                dict(channels_last=False))
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
                for _ in range(batch)],
        data_samples=random_samples(model.tasks, batch, size)), True)
    parts = [m for m in (model.backbone, model.neck) if m is not None]
    engine = Engine(*parts, batch_dim=None)
    losses = task_losses(model(**data, mode='loss'))
    vector = torch.stack(list(losses.values()))
    theirs = engine.compute_gramian(vector).double()
    ours = gram_matrix(per_task_gradients(losses,
                                          model.shared_parameters()))
    return float(((theirs - ours).abs().max() / ours.abs().max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--methods', nargs='+', help='a subset of the '
                        'method names (all by default; "plain" is added)')
    args = parser.parse_args()
    names = list(methods())
    if args.methods:
        unknown = sorted(set(args.methods) - set(names))
        if unknown:
            parser.error(f'unknown methods {unknown}; available: {names}')
        names = ['plain'] + [n for n in args.methods if n != 'plain']
    try:
        difference = autogram_difference(args.batch, 64)
        autogram = (f'autogram Gram matrix vs per-task gradients: max '
                    f'relative difference {difference:.1e}')
        if difference > 1e-4:
            autogram += ('; not equal, so autogram cannot serve this model '
                         'and is not timed')
    except Exception as error:  # the engine refuses the model
        autogram = f'autogram refuses the model: {error}'.splitlines()[0]
    print(autogram)
    memory = {name: in_fresh_process(step_memory, name, args.batch,
                                     args.size)
              for name in names}
    steps = {name: build_train_step(CONFIG, methods()[name])[1](
        args.batch, args.size) for name in names}
    times = median_times(steps, args.warmup, args.runs)
    print(f'SquadNet-small training step on {args.batch}x3x{args.size}x'
          f'{args.size}, float32')
    print(f'{"method":24s} {"step ms":>9s} {"time ratio":>10s} '
          f'{"peak MiB":>9s} {"memory ratio":>12s}')
    for name in names:
        print(f'{name:24s} {times[name] * 1e3:9.0f} '
              f'{times[name] / times["plain"]:10.2f} '
              f'{memory[name] / 2**20:9.0f} '
              f'{memory[name] / memory["plain"]:12.2f}')
    if SURGERY in names:
        print(f'surgery_time_ratio={times[SURGERY] / times["plain"]:.2f} '
              'surgery_memory_ratio='
              f'{memory[SURGERY] / memory["plain"]:.2f}')


if __name__ == '__main__':
    main()
