"""Metrics of the best constant predictors on a config's validation set.

``python tools/analysis_tools/trivial_baseline.py CONFIG [--cfg-options]``
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from mmsquad.utils import register_all_modules
from mmsquad.utils.config import read_config

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.trivial_baseline import constant_baseline  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    metrics = constant_baseline(cfg)
    print('constant predictor: ' + '  '.join(
        f'{k}: {v:.4f}' for k, v in metrics.items()))


if __name__ == '__main__':
    main()
