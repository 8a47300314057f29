"""Export a dense multi-task model to ONNX and check it against PyTorch.

``python tools/deployment/export_onnx.py CONFIG CKPT --shape H W``

The graph takes ``image`` (float32, N x 3 x H x W, BGR 0-255 as
``cv2.imread`` loads it) and gives one output per task, named after it.
BatchNorm and channel shuffles are folded into the convolutions first
(``--no-fold`` keeps them). After export, onnxruntime runs the file on a
random image and the relative error against PyTorch is printed per task.
"""
import argparse
import os
import os.path as osp
import sys

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.cli import CfgOptionsAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--shape', type=int, nargs=2, required=True,
                        metavar=('H', 'W'), help='input height and width')
    parser.add_argument('--dynamic', action='store_true',
                        help='make batch size, height and width dynamic')
    parser.add_argument('--out', help='output file (default: the '
                        'checkpoint\'s path with .onnx)')
    parser.add_argument('--no-fold', action='store_true',
                        help='export without folding BatchNorm')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, key=value pairs')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # Imported after parsing: --help answers without loading torch.
    import torch

    from mmsquad.apis import init_model
    from mmsquad.deployment import export_onnx, onnx_relative_errors
    from mmsquad.models.deploy import fold_batchnorm
    out = args.out or osp.splitext(args.checkpoint)[0] + '.onnx'
    model = init_model(args.config, args.checkpoint,
                       cfg_options=args.cfg_options)
    if not args.no_fold:
        model = fold_batchnorm(model)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    wrapper = export_onnx(model, out, args.shape, dynamic=args.dynamic)
    image = torch.rand(1, 3, *args.shape) * 255
    errors = onnx_relative_errors(wrapper, out, image)
    print(f'wrote {out} (input "image", outputs {list(errors)})')
    print('onnxruntime vs PyTorch, relative error: ' + ', '.join(
        f'{name} {err:.2e}' for name, err in errors.items()))


if __name__ == '__main__':
    main()
