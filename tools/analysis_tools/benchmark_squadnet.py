"""Speed of the fused SquadNet against the plain per-expert oracle.

SquadNet-small with four ASPP heads on a 2x3x256x256 batch. Both models
are timed in NCHW and in channels-last; the speedups compare the efficient
model channels-last (the layout of the shipped configs) with the faster
layout of the oracle. Training step: forward, backward and an Adam step.
Inference: the efficient model is folded (BatchNorm and channel shuffles
into the convolutions, activations fused into them on CPU). Both models
are initialised and their BatchNorm calibrated (random affine, running
statistics from forward passes), and two different inputs must give
clearly different outputs; then the outputs are checked to be equal. Each
number is the median of several timed runs after warm-up, the runs of the
variants interleaved. The compute floor of the efficient inference (the
arithmetic of its convolutions at the float32 matrix-product rate measured
in the same rounds) shows how close to the machine's rate the efficient
model runs, and the inference speedup it would have at that rate. Where
the CPU runs oneDNN in bfloat16 (natively, or emulated and slower: the
output says which), the folded model in bfloat16 is timed too, for
information: it changes the outputs, so it is not part of the
speedup; so is a training step under bfloat16 autocast (``--amp`` on such
a CPU). The training speedup is measured again at ``--large-size`` (384 by
default) and, both backbones checkpointing their blocks, at
``--cp-speed-size`` (512), each step with its minor page faults (pages
it touches fresh from the kernel). Gradient checkpointing (``with_cp``) is
measured at ``--cp-batch`` x3x``--cp-size``^2 (the published batch,
6x3x512x512, by default), each variant in a fresh process: the peak of its
resident memory during a training step over the memory before it, and the
step time.

No step is started that would not fit: steps of two and four samples at
half ``--cp-size`` are measured first (each in its own process), and every
larger step's memory is estimated from them (linear in the samples and the
pixels) against the memory available; where it would not fit, the largest
batch that does is measured, and the output says so.

The last line is ``train_speedup=<x> train_speedup_384=<l>
train_speedup_512_cp=<c> infer_speedup=<y> bf16_infer_speedup=<z>
amp_train_speedup=<w> cp_memory_ratio=<m> cp_time_ratio=<t>`` (bf16/amp
``n/a`` where the CPU has no bfloat16 units).
"""
import argparse
import copy
import glob
import os.path as osp
import statistics
import sys
import time
from typing import Optional

import cv2
import torch

from mmsquad.models.deploy import fold_batchnorm
from mmsquad.registry import MODELS
from mmsquad.utils import register_all_modules
from mmsquad.utils.precision import (cpu_bfloat16_is_native,
                                     cpu_supports_bfloat16)

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.samples import random_samples  # noqa: E402
from toolkit.squad_reference import ReferenceSquadNet  # noqa: E402
from toolkit.roofline import count_conv_work, matmul_step  # noqa: E402
from toolkit.timing import (counting_page_faults,  # noqa: E402
                            in_fresh_process, median_times)
from toolkit.calibration import (calibrate_batchnorm,  # noqa: E402
                                 init_weights_quietly, input_sensitivity)
from toolkit.memory import (batch_to_run, gib,  # noqa: E402
                            peak_resident)

HEAD_OUT = dict(semseg=21, human_parts=7, sal=1, normals=3)
#: The least relative difference of the outputs for two different inputs
#: for the agreement figures to mean something.
MIN_SENSITIVITY = 0.05
#: The memory layouts timed.
FORMATS = dict(nchw=torch.contiguous_format, cl=torch.channels_last)
LOSS = dict(semseg=dict(type='PixelCrossEntropyLoss'),
            human_parts=dict(type='PixelCrossEntropyLoss'),
            sal=dict(type='BalancedBCELoss'),
            normals=dict(type='NormalsL1Loss'))


def build_efficient(arch: str, with_cp: bool = False):
    """SquadNet ``arch`` with four ASPP heads (the PASCAL-Context presets;
    the model fills in the channels)."""
    return MODELS.build(dict(
        type='MultiTaskModel',
        backbone=dict(type='SquadNet', arch=arch, with_cp=with_cp),
        neck=dict(type='ExpertSquadNeck', levels=[2]),
        heads={t: dict(type='ASPPTaskHead', loss=LOSS[t])
               for t in HEAD_OUT}))


def build_pair(arch: str, inputs: torch.Tensor):
    """The efficient model and the oracle model with the same weights:
    initialised, and BatchNorm calibrated on ``inputs`` (see
    :mod:`toolkit.calibration`), so that their outputs depend on the
    input and their agreement means something."""
    efficient = build_efficient(arch)
    init_weights_quietly(efficient)
    calibrate_batchnorm(efficient, inputs)
    oracle = copy.deepcopy(efficient)
    oracle.backbone = ReferenceSquadNet(arch, num_tasks=4)
    oracle.load_state_dict(efficient.state_dict())
    return efficient, oracle


#: The trained demo model (``make demo``), where bfloat16's accuracy is
#: measured.
DEMO_CONFIG = osp.join('configs', 'squad', 'demo.py')
DEMO_CHECKPOINT = osp.join('work_dirs', 'demo', 'epoch_4.pth')
DEMO_IMAGES = osp.join('data', 'PASCAL_MT_demo', 'JPEGImages', 'demo_val_*')


def trained_bf16_accuracy(count: int = 16) -> Optional[str]:
    """bfloat16 against float32 inference of the trained demo model (folded)
    on ``count`` demo validation images: the relative error of each task's
    outputs and the agreement of the label maps' argmax; None without the
    demo checkpoint."""
    paths = sorted(glob.glob(DEMO_IMAGES))[:count]
    if not osp.isfile(DEMO_CHECKPOINT) or not paths:
        return None
    from mmsquad.apis import init_model
    model = fold_batchnorm(init_model(DEMO_CONFIG, DEMO_CHECKPOINT))
    images = [torch.from_numpy(cv2.resize(cv2.imread(p), (96, 96))
                               ).permute(2, 0, 1) for p in paths]
    x = model.data_preprocessor(dict(inputs=images), False)['inputs']
    with torch.no_grad():
        full = model(x, mode='tensor')
        half = copy.deepcopy(model).to(torch.bfloat16)(x.to(torch.bfloat16),
                                                       mode='tensor')
    parts = []
    for task, ref in full.items():
        out = half[task].float()
        parts.append(f'{task} {relative_error(out, ref):.1e}')
        if ref.shape[1] > 1 and task in ('semseg', 'human_parts'):
            agree = (out.argmax(1) == ref.argmax(1)).float().mean().item()
            parts[-1] += f' (argmax agrees on {agree:.2%})'
    return ', '.join(parts)


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """``|out - ref| / |ref|`` in the Frobenius norm."""
    return ((out - ref).norm() / ref.norm()).item()


def inference_step(model: torch.nn.Module, inputs: torch.Tensor):
    """A call running ``model`` on ``inputs`` without gradients."""
    def step():
        with torch.no_grad():
            model(inputs, mode='tensor')
    return step


def training_step(model: torch.nn.Module, inputs: torch.Tensor,
                  samples: list, amp: bool = False, optim=None):
    """A call running one Adam training step of ``model`` (with its own
    optimizer unless ``optim`` is given)."""
    optim = optim or torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
            loss = sum(model(inputs, samples, mode='loss').values())
        optim.zero_grad()
        loss.backward()
        optim.step()
    return step


def _measure_memory(arch: str, with_cp: bool, batch: int,
                    size: int) -> tuple:
    """In a fresh process: (peak memory growth in bytes, seconds) of
    training steps; a small step first allocates the optimizer state, the
    second full step is timed."""
    register_all_modules()
    torch.manual_seed(0)
    model = build_efficient(arch, with_cp).to(
        memory_format=torch.channels_last).train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step_at(batch_size: int, side: int):
        x = torch.randn(batch_size, 3, side, side).contiguous(
            memory_format=torch.channels_last)
        return training_step(model, x,
                             random_samples(model.tasks, batch_size, side),
                             optim=optim)

    step_at(2, 64)()
    step = step_at(batch, size)
    before = peak_resident()
    step()
    start = time.perf_counter()
    step()
    seconds = time.perf_counter() - start
    return peak_resident() - before, seconds


def step_cost(arch: str, with_cp: bool, batch: int,
              size: int) -> Optional[tuple]:
    """(peak memory growth in bytes, step seconds) of a training step,
    measured in a process of its own (the resident peak never goes down);
    None where the process failed."""
    try:
        return in_fresh_process(_measure_memory, arch, with_cp, batch, size)
    except RuntimeError as error:
        print(f'train step {batch}x3x{size}x{size} with_cp={with_cp}: '
              f'{error}')
        return None


def checkpointing_cost(arch: str, batch: int, size: int,
                       per_sample: float, fixed: float) -> tuple:
    """``(batch, {with_cp: step_cost or None})`` at the largest batch up to
    ``batch`` whose step without checkpointing fits the available memory
    (``fixed`` + ``per_sample`` bytes a sample; said when the batch is
    smaller; nothing measured where not two samples fit)."""
    fitting = batch_to_run(
        f'train step {batch}x3x{size}x{size} without checkpointing',
        per_sample, batch, fixed, least=2)
    return fitting, {with_cp: step_cost(arch, with_cp, fitting, size)
                     for with_cp in (False, True)} if fitting else {}


def large_training_speedup(arch: str, batch: int, size: int, with_cp: bool,
                           per_sample: float, warmup: int,
                           runs: int) -> str:
    """The training speedup (the oracle's faster layout over the efficient
    model channels-last) on a ``batch`` x3x``size``^2 batch, both
    backbones with ``with_cp``, or at the largest batch that fits
    (``per_sample`` bytes a sample, said when smaller); ``n/a`` where not
    two samples fit (BatchNorm trains on at least two). Run it in a fresh
    process, where the memory is the step's."""
    fitting = batch_to_run(
        f'train step {batch}x3x{size}x{size} with_cp={with_cp}',
        per_sample, batch, least=2)
    if not fitting:
        return 'n/a'
    register_all_modules()
    torch.manual_seed(0)
    efficient, oracle = build_pair(arch, torch.randn(2, 3, 128, 128))
    x = torch.randn(fitting, 3, size, size)
    samples = random_samples(efficient.tasks, fitting, size)
    steps = {}
    for label, model, layouts in (('oracle', oracle, ('nchw', 'cl')),
                                  ('efficient', efficient, ('cl', ))):
        for fmt in layouts:
            layout = FORMATS[fmt]
            copied = copy.deepcopy(model).to(memory_format=layout).train()
            copied.backbone.with_cp = with_cp
            steps[label, fmt] = training_step(
                copied, x.contiguous(memory_format=layout), samples)
    del efficient, oracle
    steps, faults = counting_page_faults(steps)
    times = median_times(steps, warmup, runs)
    oracle_seconds = min(times['oracle', 'nchw'], times['oracle', 'cl'])

    def cost(key: tuple) -> str:
        return (f'{times[key] * 1e3:.0f} ms '
                f'({statistics.median(faults[key][warmup:]) / 1e6:.2f}M '
                'page faults)')  # of the timed calls, as the time

    print(f'train step {fitting}x3x{size}x{size} with_cp={with_cp}: oracle '
          f'NCHW {cost(("oracle", "nchw"))}, channels-last '
          f'{cost(("oracle", "cl"))}; efficient channels-last '
          f'{cost(("efficient", "cl"))}', flush=True)
    return f'{oracle_seconds / times["efficient", "cl"]:.2f}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='small')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--cp-batch', type=int, default=6)
    parser.add_argument('--cp-size', type=int, default=512)
    parser.add_argument('--large-size', type=int, default=384,
                        help='the training step timed again at this size')
    parser.add_argument('--cp-speed-size', type=int, default=512,
                        help='... and at this size, both models with '
                        'checkpointing')
    parser.add_argument('--large-runs', type=int, default=3)
    args = parser.parse_args()
    # First, while this process holds little memory: what two and four
    # samples at half the checkpointing size need, from which every larger
    # step's need is estimated (linear in the pixels) before it runs.
    probe = args.cp_size // 2
    two, four = (step_cost(args.arch, False, batch, probe)
                 for batch in (2, 4))
    if not (two and four):
        sys.exit(f'benchmark_squadnet.py: a training step of two or four samples at '
                 f'{probe}x{probe} did not complete')
    per_sample = (four[0] - two[0]) / 2 * (args.cp_size / probe) ** 2
    fixed = max(two[0] - (four[0] - two[0]), 0)
    print(f'train step 2x3x{probe}x{probe}: peak memory +{gib(two[0])}, '
          f'4x3x{probe}x{probe}: +{gib(four[0])}; estimated at '
          f'{args.cp_size}x{args.cp_size}: {gib(fixed)} and '
          f'{gib(per_sample)} a sample')
    cp_batch, costs = checkpointing_cost(args.arch, args.cp_batch,
                                         args.cp_size, per_sample, fixed)
    # The larger training steps, each in a process of its own; with
    # checkpointing a sample takes the share of memory measured above.
    cp_share = costs[True][0] / costs[False][0] if costs and \
        None not in costs.values() else 1.0
    large_speedup = {
        size: in_fresh_process(
            large_training_speedup, args.arch, args.batch, size, with_cp,
            per_sample * (size / args.cp_size) ** 2 * (
                cp_share if with_cp else 1.0), 1, args.large_runs)
        for size, with_cp in ((args.large_size, False),
                              (args.cp_speed_size, True))}
    register_all_modules()
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    efficient, oracle = build_pair(args.arch, x)

    inputs = {name: x.contiguous(memory_format=fmt)
              for name, fmt in FORMATS.items()}

    # Inference: the folded efficient model against the oracle.
    oracle.eval()
    fast = fold_batchnorm(copy.deepcopy(efficient)).to(
        memory_format=torch.channels_last)
    with torch.no_grad():
        ref_out = oracle(x, mode='tensor')
        fast_out = fast(inputs['cl'], mode='tensor')
    err = max(relative_error(fast_out[t], ref_out[t]) for t in HEAD_OUT)
    sensitivity = input_sensitivity(oracle, x, torch.randn_like(x))
    print(f'inference outputs: max relative error {err:.2e}; two different '
          f'inputs give outputs {sensitivity:.2f} apart (relative)')
    if sensitivity < MIN_SENSITIVITY:
        sys.exit(f'benchmark_squadnet.py: the outputs barely depend on the input '
                 f'({sensitivity:.1e} < {MIN_SENSITIVITY}): an agreement '
                 'would prove nothing')

    # Every (model, layout) pair gets its own copy: the runs interleave.
    def infer(model, fmt):
        return inference_step(
            copy.deepcopy(model).to(memory_format=FORMATS[fmt]),
            inputs[fmt])

    samples = random_samples(efficient.tasks, args.batch, args.size)

    def train(model, fmt, amp=False):
        model = copy.deepcopy(model).to(memory_format=FORMATS[fmt]).train()
        return training_step(model, inputs[fmt], samples, amp)

    def variants(make_step, efficient_model):
        return {(label, fmt): make_step(model, fmt)
                for label, model in (('oracle', oracle),
                                     ('efficient', efficient_model))
                for fmt in FORMATS}

    def report(name, times):
        """Print the times; the oracle's faster layout and the speedup."""
        print(f'{name:10s} ' + '   '.join(
            f'{label} {fmt} {times[label, fmt] * 1e3:8.1f} ms'
            for label in ('oracle', 'efficient') for fmt in FORMATS))
        oracle_seconds = min(times['oracle', 'nchw'], times['oracle', 'cl'])
        return oracle_seconds, oracle_seconds / times['efficient', 'cl']

    # bfloat16 changes the outputs, so it is reported beside the speedup,
    # not in it: what the precision would give if the target allowed it.
    extra = {}
    bf16 = cpu_supports_bfloat16()
    if bf16:
        half = copy.deepcopy(fast).to(torch.bfloat16)
        half_input = inputs['cl'].to(torch.bfloat16)
        with torch.no_grad():
            half_out = half(half_input, mode='tensor')
        half_err = max(relative_error(half_out[t].float(), ref_out[t])
                       for t in HEAD_OUT)
        extra['bfloat16'] = inference_step(half, half_input)
    matmul, matmul_flops = matmul_step()
    times = median_times(
        {**variants(infer, fast), **extra, 'matmul': matmul},
        args.warmup, args.runs)
    oracle_seconds, infer_speedup = report('inference', times)
    if extra:
        kind = 'native' if cpu_bfloat16_is_native() else \
            'emulated: no avx512_bf16 or AMX here'
        print(f'bfloat16 ({kind}) folded inference: '
              f'{times["bfloat16"] * 1e3:.1f} ms, '
              f'{oracle_seconds / times["bfloat16"]:.2f}x the oracle, '
              f'outputs within {half_err:.1e} (relative, calibrated random '
              'weights); not counted in infer_speedup')
        trained = trained_bf16_accuracy()
        print('bfloat16 on the trained demo model (relative error against '
              f'float32): {trained}' if trained else 'bfloat16 on the '
              f'trained demo model: run `make demo` first ({DEMO_CHECKPOINT})')
    work = count_conv_work(inference_step(fast, inputs['cl']))
    rate = matmul_flops / times['matmul']
    floor = work.seconds_at(rate)
    print(f'inference compute floor: {work.effective_macs / 1e9:.1f} GMAC '
          f'in convolutions ({work.macs / 1e9:.1f} with the taps over zero '
          f'padding) at the float32 matmul rate measured alongside, '
          f'{rate / 1e9:.0f} GFLOP/s: {floor * 1e3:.0f} ms. The efficient '
          f'model runs at {floor / times["efficient", "cl"]:.0%} of that '
          f'rate; at 100% infer_speedup would be {oracle_seconds / floor:.2f}')
    bf16_infer = f'{oracle_seconds / times["bfloat16"]:.2f}' if bf16 \
        else 'n/a'
    amp_step = {('efficient', 'amp'): train(efficient, 'cl', amp=True)} \
        if bf16 else {}
    times = median_times({**variants(train, efficient), **amp_step},
                         args.warmup, args.runs)
    oracle_seconds, train_speedup = report('train step', times)
    amp_train = 'n/a'
    if bf16:
        print(f'bfloat16 autocast train step: '
              f'{times["efficient", "amp"] * 1e3:.1f} ms')
        amp_train = f'{oracle_seconds / times["efficient", "amp"]:.2f}'
    for with_cp, cost in costs.items():
        if cost is not None:
            print(f'train step {cp_batch}x3x{args.cp_size}x'
                  f'{args.cp_size} with_cp={with_cp}: peak memory '
                  f'+{cost[0] / 2**30:.2f} GiB, {cost[1]:.1f} s')
    cp_memory = cp_time = 'n/a'
    if costs and None not in costs.values() and costs[False][0] > 0:
        cp_memory = f'{costs[True][0] / costs[False][0]:.2f}'
        cp_time = f'{costs[True][1] / costs[False][1]:.2f}'

    print(f'train_speedup={train_speedup:.2f} '
          f'train_speedup_{args.large_size}='
          f'{large_speedup[args.large_size]} '
          f'train_speedup_{args.cp_speed_size}_cp='
          f'{large_speedup[args.cp_speed_size]} '
          f'infer_speedup={infer_speedup:.2f} '
          f'bf16_infer_speedup={bf16_infer} amp_train_speedup={amp_train} '
          f'cp_memory_ratio={cp_memory} cp_time_ratio={cp_time}')


if __name__ == '__main__':
    main()
