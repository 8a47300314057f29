"""Speed of the fused SquadNet against the plain per-expert oracle.

SquadNet-small with four ASPP heads on a 2x3x256x256 batch. Training step:
forward, backward and an Adam step, both models in NCHW. Inference: the
efficient model is folded (BatchNorm and channel shuffles into the
convolutions) and runs channels-last; the oracle runs as written. Both are
checked to give equal outputs first. Each number is the median of several
timed runs after warm-up; the last line is
``train_speedup=<x> infer_speedup=<y>``.
"""
import argparse
import copy

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from mmsquad.models.deploy import fold_batchnorm
from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.testing import ReferenceSquadNet
from mmsquad.utils import register_all_modules
from mmsquad.utils.timing import median_time

HEAD_OUT = dict(semseg=21, human_parts=7, sal=1, normals=3)
LOSS = dict(semseg=dict(type='PixelCrossEntropyLoss'),
            human_parts=dict(type='PixelCrossEntropyLoss'),
            sal=dict(type='BalancedBCELoss'),
            normals=dict(type='NormalsL1Loss'))


def build_pair(arch: str):
    """The efficient model and the oracle model with the same weights."""
    shared = 2 if arch != 'tiny' else 1
    cfg = dict(
        type='MultiTaskModel',
        backbone=dict(type='SquadNet', arch=arch, num_tasks=4),
        neck=dict(type='ExpertSquadNeck', levels=[2]),
        heads={t: dict(type='ASPPTaskHead', in_channels=128 * (1 + shared),
                       out_channels=c, loss=LOSS[t])
               for t, c in HEAD_OUT.items()})
    efficient = MODELS.build(cfg)
    oracle = copy.deepcopy(efficient)
    oracle.backbone = ReferenceSquadNet(arch, num_tasks=4)
    oracle.load_state_dict(efficient.state_dict())
    return efficient, oracle


def random_samples(batch: int, size: int) -> list:
    """Data samples with random targets for every task."""
    samples = []
    for _ in range(batch):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=(size, size)))
        for task, channels in HEAD_OUT.items():
            if task == 'normals':
                data = F.normalize(torch.randn(3, size, size), dim=0)
            else:
                data = torch.randint(0, max(channels, 2), (1, size, size))
            sample.set_target(task, PixelData(data=data))
        samples.append(sample)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='small')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    register_all_modules()
    torch.manual_seed(0)
    efficient, oracle = build_pair(args.arch)
    x = torch.randn(args.batch, 3, args.size, args.size)

    # Inference: fold + channels-last against the plain oracle.
    oracle.eval()
    fast = fold_batchnorm(copy.deepcopy(efficient)).to(
        memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref_out = oracle(x, mode='tensor')
        fast_out = fast(x_cl, mode='tensor')
    err = max(((fast_out[t] - ref_out[t]).norm() / ref_out[t].norm()).item()
              for t in HEAD_OUT)
    print(f'inference outputs: max relative error {err:.2e}')

    def infer(model, inputs):
        def step():
            with torch.no_grad():
                model(inputs, mode='tensor')
        return step

    t_infer_oracle = median_time(infer(oracle, x), args.warmup, args.runs)
    t_infer_fast = median_time(infer(fast, x_cl), args.warmup, args.runs)
    print(f'inference  oracle {t_infer_oracle * 1e3:8.1f} ms   '
          f'efficient {t_infer_fast * 1e3:8.1f} ms')

    samples = random_samples(args.batch, args.size)

    def train(model):
        model.train()
        optim = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            loss = sum(model(x, samples, mode='loss').values())
            optim.zero_grad()
            loss.backward()
            optim.step()
        return step

    t_train_oracle = median_time(train(oracle), args.warmup, args.runs)
    t_train_fast = median_time(train(efficient), args.warmup, args.runs)
    print(f'train step oracle {t_train_oracle * 1e3:8.1f} ms   '
          f'efficient {t_train_fast * 1e3:8.1f} ms')
    print(f'train_speedup={t_train_oracle / t_train_fast:.2f} '
          f'infer_speedup={t_infer_oracle / t_infer_fast:.2f}')


if __name__ == '__main__':
    main()
