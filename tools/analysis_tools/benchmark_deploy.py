"""Inference latency of the eager, the folded and the ONNX Runtime model.

The model of ``configs/squad/pascal_ctx.py`` (SquadNet-small, four ASPP
heads) on one 1x3x512x512 image, through the deployment graph (input
normalisation, every task's output at full size). Eager: the model as
trained, in eval mode. Folded: BatchNorm and channel shuffles folded into
the convolutions, channels-last. ONNX Runtime: the folded model exported
with ``tools/deployment/export_onnx.py``'s code, on as many threads as
torch uses. ``--precision bf16`` (or ``fp16`` on CUDA) runs the eager and
the folded torch models in that precision (weights and input cast; the
folded model's fused convolutions run in bfloat16 where oneDNN does);
ONNX Runtime stays float32. Each number is the median of several runs
after warm-up; the last line is ``folded_speedup=<x>
onnxruntime_speedup=<y>``.
"""
import argparse
import copy
import os.path as osp
import sys
import tempfile

import onnxruntime
import torch

from mmsquad.apis import init_model
from mmsquad.deployment import (ExportableMultiTaskModel, export_onnx,
                                onnx_relative_errors)
from mmsquad.models.deploy import fold_batchnorm
from mmsquad.utils.precision import PRECISIONS, precision_dtype

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.calibration import calibrate_batchnorm  # noqa: E402
from toolkit.timing import median_times  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config',
                        default=osp.join(REPO, 'configs/squad/pascal_ctx.py'))
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--precision', choices=list(PRECISIONS),
                        default='fp32')
    args = parser.parse_args()
    dtype = precision_dtype(args.precision)
    torch.manual_seed(0)
    model = init_model(args.config)
    image = torch.rand(1, 3, args.size, args.size) * 255
    # Calibrated BatchNorm: outputs that depend on the input, so that the
    # agreement below means something.
    calibrate_batchnorm(model, torch.randn(2, 3, 128, 128))
    eager = ExportableMultiTaskModel(model).eval()
    folded = fold_batchnorm(copy.deepcopy(model)).to(
        memory_format=torch.channels_last)
    image_cl = image.contiguous(memory_format=torch.channels_last)

    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = osp.join(tmp, 'model.onnx')
        export_onnx(folded, onnx_file, (args.size, args.size))
        errors = onnx_relative_errors(eager, onnx_file, image)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(
            onnx_file, options, providers=['CPUExecutionProvider'])
    print('onnxruntime vs eager, max relative error '
          f'{max(errors.values()):.2e}')

    def run_torch(graph, inputs):
        def step():
            with torch.no_grad():
                graph(inputs)
        return step

    feed = {'image': image.numpy()}
    if dtype != torch.float32:
        print(f'eager and folded in {args.precision}; onnxruntime float32')
    times = median_times(
        dict(eager=run_torch(eager.to(dtype), image.to(dtype)),
             folded=run_torch(ExportableMultiTaskModel(folded).to(dtype),
                              image_cl.to(dtype)),
             onnxruntime=lambda: session.run(None, feed)),
        args.warmup, args.runs)
    for name, seconds in times.items():
        print(f'1x3x{args.size}x{args.size} {name:12s} '
              f'{seconds * 1e3:8.1f} ms')
    print(f'folded_speedup={times["eager"] / times["folded"]:.2f} '
          f'onnxruntime_speedup={times["eager"] / times["onnxruntime"]:.2f}')


if __name__ == '__main__':
    main()
