"""Score the predictions of ``tools/test.py --out`` again, without running
the model (mmdet's ``eval_metric.py``).

``python tools/test.py CONFIG CHECKPOINT --out preds.pkl``, then
``python tools/analysis_tools/eval_metric.py CONFIG preds.pkl
[--cfg-options test_evaluator.single_task_references=refs.json]``

The config's ``test_evaluator`` (with ``--cfg-options`` applied) scores
the pickled samples, with the test dataset's metainfo: single-task
references that came after the test give ``multitask/delta_m``, another
threshold or metric setting its numbers, with no image run again.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.cli import CfgOptionsAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the predictions were '
                        'made with')
    parser.add_argument('predictions', help='pickle of tools/test.py --out')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, key=value pairs')
    return parser.parse_args()


def load_predictions(path: str) -> list:
    """The samples of a ``tools/test.py --out`` pickle.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: When it holds anything but a non-empty list of samples.
    """
    import mmengine
    if not osp.isfile(path):
        raise FileNotFoundError(f'predictions {path} do not exist')
    try:
        samples = mmengine.load(path, file_format='pkl')
    except Exception as error:  # pickle raises many kinds
        reason = ' '.join(str(error).split())  # on one line
        raise ValueError(f'{path} is not a pickle of predictions: '
                         f'{type(error).__name__}: {reason}') from None
    if not isinstance(samples, list) or not samples or not all(
            isinstance(s, dict) for s in samples):
        raise ValueError(f'{path} holds {type(samples).__name__}, not the '
                         'list of samples that tools/test.py --out writes')
    return samples


def unpredicted_tasks(samples: list, dataset_cfg) -> list:
    """The tasks of the dataset config that no sample has a prediction of:
    predictions made with another config (the metric would leave those
    tasks out without a word)."""
    from mmsquad.datasets import configured_tasks
    from mmsquad.tasks import build_tasks
    tasks = build_tasks(configured_tasks(dataset_cfg))
    return [name for name, task in tasks.items()
            if not any(task.prediction_key in s for s in samples)]


def main() -> None:
    args = parse_args()
    # Imported after parsing: --help answers without loading torch.
    from mmengine.evaluator import Evaluator

    from mmsquad.registry import DATASETS
    from toolkit.tool_setup import load_data_config
    try:
        samples = load_predictions(args.predictions)
        cfg = load_data_config(args.config, args.cfg_options)
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    except (OSError, ValueError, KeyError) as error:
        reason = error.args[0] if isinstance(error, KeyError) else error
        sys.exit(f'eval_metric.py: error: {reason}')
    missing = unpredicted_tasks(samples, cfg.test_dataloader.dataset)
    if missing:
        sys.exit(f'eval_metric.py: error: no sample of {args.predictions} '
                 f'predicts {", ".join(missing)}, a task of {args.config}: '
                 'give the config the predictions were made with')
    if len(samples) != len(dataset):
        print(f'eval_metric.py: warning: {len(samples)} predictions, '
              f'{len(dataset)} test samples in {args.config}',
              file=sys.stderr)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    for key, value in evaluator.offline_evaluate(samples).items():
        print(f'{key}: {value:.4f}' if isinstance(value, float)
              else f'{key}: {value}')


if __name__ == '__main__':
    main()
