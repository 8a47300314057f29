"""Render the embedded demo dataset in the PASCAL_MT layout.

``python tools/misc/make_demo_data.py [--out data/PASCAL_MT_demo]``
"""
import argparse
import os.path as osp
import sys
import time

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.synthetic import make_pascal_mt_demo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/PASCAL_MT_demo')
    parser.add_argument('--num-train', type=int, default=320)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--size', type=int, default=96)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    start = time.time()
    make_pascal_mt_demo(args.out, args.num_train, args.num_val, args.size,
                        args.seed)
    print(f'wrote {args.num_train} train and {args.num_val} val images to '
          f'{args.out} in {time.time() - start:.0f}s')


if __name__ == '__main__':
    main()
