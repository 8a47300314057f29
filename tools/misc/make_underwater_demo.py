"""Render the embedded underwater demo (DUO layout plus references).

``python tools/misc/make_underwater_demo.py [--out data/underwater_demo]``
"""
import argparse
import os.path as osp
import sys
import time

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.synthetic import make_underwater_demo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/underwater_demo')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    start = time.time()
    make_underwater_demo(args.out, args.num_train, args.num_test, args.size,
                         args.seed)
    print(f'wrote {args.num_train} train and {args.num_test} test images '
          f'to {args.out} in {time.time() - start:.0f}s')


if __name__ == '__main__':
    main()
