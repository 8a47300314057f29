"""Predict every task of a multi-task model on images and draw panels.

Example::

    python demo/image_demo.py data/PASCAL_MT_demo/JPEGImages/2008_000002.jpg \
        configs/squad/demo.py work_dirs/demo/epoch_4.pth --out-dir outputs
"""
import argparse
import os.path as osp
import sys

# The tools' shared command-line pieces (tools/toolkit/cli.py).
sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(
    __file__))), 'tools'))
from toolkit.cli import (add_inferencer_arguments,  # noqa: E402
                         inferencer_kwargs)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', help='an image file or a directory')
    parser.add_argument('model', help='config file, or a shipped config name '
                        '(e.g. squad/pascal_ctx)')
    parser.add_argument('weights', help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs',
                        help='panels go to OUT_DIR/vis, predictions to '
                        'OUT_DIR/preds')
    parser.add_argument('--batch-size', type=int, default=1)
    add_inferencer_arguments(parser)
    parser.add_argument('--max-pixels', type=int,
                        help='skip images whose network input has more '
                        'pixels than this (default: the inferencer\'s, '
                        '2048x2048)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # Imported after parsing: --help answers without loading torch.
    from mmsquad.apis import MultiTaskInferencer
    from mmsquad.apis.multitask_inferencer import MAX_PIXELS
    from mmsquad.utils import CheckpointError
    try:
        inferencer = MultiTaskInferencer(
            **inferencer_kwargs(args),
            max_pixels=args.max_pixels or MAX_PIXELS)
        result = inferencer(args.inputs, batch_size=args.batch_size,
                            out_dir=args.out_dir)
    except (CheckpointError, OSError, ValueError) as error:
        sys.exit(f'image_demo.py: error: {error}')
    done = len(result['predictions'])
    print(f'{done} image(s) done, {len(result["skipped"])} skipped; panels '
          f'in {args.out_dir}/vis, predictions in {args.out_dir}/preds')
    if not done:
        sys.exit('image_demo.py: error: no image could be predicted')


if __name__ == '__main__':
    main()
