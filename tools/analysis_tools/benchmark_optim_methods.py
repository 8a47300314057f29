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

Every exact gradient method needs each task's gradient of the shared
parameters: one backward through the shared part per task, where plain
training needs one in all. The script times that backward alone (a
vector-Jacobian product of the shared part's outputs, in the same rounds)
and prints the floor it sets: ``(plain + (tasks - 1) x that backward) /
plain``, the least time ratio any exact method can reach on this machine.

torchjd's ``autogram`` engine computes the Gramian of the per-task
gradients without materialising them; the torchjd aggregators that weight
by the Gramian alone then need one backward of the weighted losses
(``toolkit.gramian_surgery``). The script compares the engine's Gramian
with that of the per-task gradients and, where they agree, times UPGrad
through it as ``autogram.UPGrad``.

The last line is ``surgery_time_ratio=<t> surgery_memory_ratio=<m>
surgery_floor_ratio=<f>``: PCGrad's step time and memory over plain
training's (when PCGrad is measured) and the floor above.

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
from toolkit.gramian_surgery import (GramianSurgeryOptimWrapper,  # noqa: E402
                                     shared_modules)
from toolkit.method_catalogue import training_methods  # noqa: E402
from toolkit.samples import random_samples  # noqa: E402
from toolkit.timing import (in_fresh_process, median_times,  # noqa: E402
                            peak_memory_growth)
from toolkit.train_steps import build_train_step  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'squad', 'pascal_ctx.py')
#: The method whose cost the last line reports as the surgery's.
SURGERY = 'PCGrad'
#: The tasks of the config.
TASKS = 4
#: The torchjd aggregator timed through the autogram engine.
AUTOGRAM = 'UPGrad'


def gramian_wrapper(model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer
                    ) -> GramianSurgeryOptimWrapper:
    """:data:`AUTOGRAM` through the autogram engine."""
    return GramianSurgeryOptimWrapper(optimizer, model, AUTOGRAM)


def methods() -> dict:
    """``{name: changes}``: :func:`~mmsquad.engine.training_methods` and
    ``autogram.<AUTOGRAM>``."""
    register_all_modules()
    methods = training_methods(num_tasks=TASKS)
    methods[f'autogram.{AUTOGRAM}'] = dict(optim_wrapper=gramian_wrapper)
    return methods


def step_memory(name: str, batch: int, size: int) -> int:
    """The peak resident-memory growth (bytes) of a training step with
    method ``name``, after a small step has made the optimizer's and the
    method's state (run it in a fresh process)."""
    _, step_at = build_train_step(CONFIG, methods()[name])
    step_at(2, 64)()
    return peak_memory_growth(step_at(batch, size))


def random_batch(model: torch.nn.Module, batch: int, size: int) -> dict:
    """A random ``batch`` x3x``size``^2 batch through the model's data
    preprocessor."""
    return model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
                for _ in range(batch)],
        data_samples=random_samples(model.tasks, batch, size)), True)


def autogram_difference(batch: int, size: int) -> float:
    """Max relative difference between the Gramian torchjd's autogram
    engine computes over the shared modules and that of the per-task
    gradients of the shared parameters (on the same batch)."""
    from torchjd.autogram import Engine
    model, _ = build_train_step(CONFIG, methods()['plain'])
    data = random_batch(model, batch, size)
    engine = Engine(*shared_modules(model), batch_dim=None)
    losses = task_losses(model(**data, mode='loss'))
    vector = torch.stack(list(losses.values()))
    theirs = engine.compute_gramian(vector).double()
    ours = gram_matrix(per_task_gradients(losses,
                                          model.shared_parameters()))
    return float(((theirs - ours).abs().max() / ours.abs().max()))


def shared_passes(batch: int, size: int) -> dict:
    """Two calls for :func:`median_times`: ``forward`` runs the shared part
    (backbone and neck) on a random batch, ``forward+backward`` also one
    backward through it to its parameters (a vector-Jacobian product of
    its outputs with random cotangents)."""
    model, _ = build_train_step(CONFIG, methods()['plain'])
    inputs = random_batch(model, batch, size)['inputs']
    params = model.shared_parameters()

    def outputs() -> list:
        unique = {id(t): t for feats in model.extract_feats(inputs).values()
                  for t in feats}
        return list(unique.values())

    def backward() -> None:
        tensors = outputs()
        torch.autograd.grad(tensors, params,
                            [torch.randn_like(t) for t in tensors],
                            allow_unused=True)
    return {'forward': outputs, 'forward+backward': backward}


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
    autogram = f'autogram.{AUTOGRAM}'
    try:
        difference = autogram_difference(args.batch, 64)
        verdict = (f'autogram Gramian vs per-task gradients: max relative '
                   f'difference {difference:.1e}')
        if difference > 1e-4:
            verdict += ('; not equal, so autogram cannot serve this model '
                        'and is not timed')
    except Exception as error:  # the engine refuses the model
        difference = float('inf')
        verdict = f'autogram refuses the model: {error}'.splitlines()[0]
    print(verdict)
    if difference > 1e-4 and autogram in names:
        names.remove(autogram)
    memory = {name: in_fresh_process(step_memory, name, args.batch,
                                     args.size)
              for name in names}
    steps = {name: build_train_step(CONFIG, methods()[name])[1](
        args.batch, args.size) for name in names}
    shared = {f'shared part {key}': call for key, call in
              shared_passes(args.batch, args.size).items()}
    times = median_times(dict(steps, **shared), args.warmup, args.runs)
    plain = times['plain']
    backward = times['shared part forward+backward'] - \
        times['shared part forward']
    floor = (plain + (TASKS - 1) * backward) / plain
    print(f'SquadNet-small training step on {args.batch}x3x{args.size}x'
          f'{args.size}, float32')
    print(f'{"method":24s} {"step ms":>9s} {"time ratio":>10s} '
          f'{"peak MiB":>9s} {"memory ratio":>12s}')
    for name in names:
        print(f'{name:24s} {times[name] * 1e3:9.0f} '
              f'{times[name] / plain:10.2f} '
              f'{memory[name] / 2**20:9.0f} '
              f'{memory[name] / memory["plain"]:12.2f}')
    print(f'one backward through the shared part: {backward * 1e3:.0f} ms; '
          f'an exact method takes one per task ({TASKS}), plain training '
          f'one in all: floor (plain + {TASKS - 1} x {backward * 1e3:.0f} '
          f'ms) / plain = {floor:.2f}')
    results = []
    if SURGERY in names:
        results += [
            f'surgery_time_ratio={times[SURGERY] / plain:.2f}',
            f'surgery_memory_ratio={memory[SURGERY] / memory["plain"]:.2f}']
    print(' '.join(results + [f'surgery_floor_ratio={floor:.2f}']))

if __name__ == '__main__':
    main()
