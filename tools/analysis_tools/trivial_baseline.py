"""Metrics of the best constant predictors on a config's validation set.

``python tools/analysis_tools/trivial_baseline.py CONFIG [--cfg-options]``
"""
import argparse

from mmengine.config import Config, DictAction

from mmsquad.evaluation.trivial_baseline import (constant_predictors,
                                                 evaluate_constants)
from mmsquad.registry import DATASETS
from mmsquad.utils import register_all_modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    train_cfg = dict(cfg.train_dataloader.dataset)
    train_cfg['pipeline'] = cfg.val_dataloader.dataset.pipeline
    constants = constant_predictors(DATASETS.build(train_cfg),
                                    cfg.val_evaluator.tasks)
    metrics = evaluate_constants(DATASETS.build(cfg.val_dataloader.dataset),
                                 cfg.val_evaluator, constants)
    print('constant predictor: ' + '  '.join(
        f'{k}: {v:.4f}' for k, v in metrics.items()))


if __name__ == '__main__':
    main()
