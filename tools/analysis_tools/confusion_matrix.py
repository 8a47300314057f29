"""Confusion matrices of every class-map task of a test's predictions
(mmseg's ``confusion_matrix.py`` for multi-task predictions).

``python tools/test.py CONFIG CHECKPOINT --out preds.pkl``, then
``python tools/analysis_tools/confusion_matrix.py CONFIG preds.pkl SAVE_DIR``

Writes ``SAVE_DIR/confusion_matrix_<task>.png`` per task of the
``LabelMapTask`` kind (each target row normalised to 100%; classes named
by the dataset where it names them) and prints each task's per-class IoU
and its mIoU, which are the metric's.
"""
import argparse
import os
import os.path as osp
import pickle
from typing import Dict, List, Sequence

import numpy as np


def task_confusions(samples: List[dict], tasks: Dict[str, object],
                    names: Sequence[str]) -> Dict[str, np.ndarray]:
    """``{task: confusion (target x prediction)}`` summed over the samples
    that carry both, through each task kind's own per-sample statistics
    (those of its metric)."""
    found = {}
    for name in names:
        task = tasks[name]
        pred_key, gt_key = task.prediction_key, task.target_key
        stats = [task.sample_stats(task.field_array(sample[pred_key]),
                                   task.field_array(sample[gt_key]))
                 for sample in samples
                 if pred_key in sample and gt_key in sample]
        if not stats:
            raise SystemExit(f'no sample of the predictions carries both '
                             f'{pred_key} and {gt_key}')
        found[name] = np.sum(stats, axis=0)
    return found


def plot(confusion: np.ndarray, classes: Sequence[str], title: str,
         path: str) -> None:
    """The row-normalised matrix (% of each target class), annotated."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    count = len(confusion)
    rows = confusion.sum(axis=1, keepdims=True)
    percent = np.divide(100.0 * confusion, rows, where=rows > 0,
                        out=np.zeros(confusion.shape))
    side = max(4.0, 0.45 * count)
    figure, axis = plt.subplots(figsize=(side + 1.5, side))
    image = axis.imshow(percent, cmap='Blues', vmin=0, vmax=100)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    labels = list(classes) if len(classes) == count else \
        [str(i) for i in range(count)]
    axis.set_xticks(range(count), labels, rotation=90, fontsize=7)
    axis.set_yticks(range(count), labels, fontsize=7)
    axis.set_xlabel('prediction')
    axis.set_ylabel('target')
    axis.set_title(title)
    if count <= 30:
        for i in range(count):
            for j in range(count):
                if percent[i, j] >= 0.5:
                    axis.text(j, i, f'{percent[i, j]:.0f}', ha='center',
                              va='center', fontsize=6,
                              color='white' if percent[i, j] > 50 else
                              'black')
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the predictions were '
                        'made with')
    parser.add_argument('predictions', help='pickle of tools/test.py --out')
    parser.add_argument('save_dir', help='where the pictures go')
    parser.add_argument('--tasks', nargs='+', help='the class-map tasks '
                        '(default: all of them)')
    args = parser.parse_args()
    # Imported after parsing: --help answers without loading torch.
    from mmsquad.datasets import configured_tasks
    from mmsquad.functional.dense_stats import class_ious
    from mmsquad.registry import DATASETS
    from mmsquad.tasks import LabelMapTask, build_task
    from mmsquad.utils import register_all_modules
    from mmsquad.utils.config import read_config
    from mmsquad.visualization import class_names

    register_all_modules()
    dataset = read_config(args.config).test_dataloader.dataset
    tasks = {name: build_task(name, dict(kind))
             for name, kind in configured_tasks(dataset).items()}
    label_tasks = [name for name, task in tasks.items()
                   if isinstance(task, LabelMapTask)]
    if not label_tasks:
        raise SystemExit(f'{args.config} has no class-map task (of the '
                         'LabelMapTask kind)')
    names = args.tasks or label_tasks
    unknown = sorted(set(names) - set(label_tasks))
    if unknown:
        raise SystemExit(f'{", ".join(unknown)}: not class-map tasks of '
                         f'{args.config} (those are: '
                         f'{", ".join(label_tasks)})')
    with open(args.predictions, 'rb') as f:
        samples = pickle.load(f)
    meta = dict(getattr(DATASETS.get(dataset['type']), 'METAINFO', {}),
                **(dataset.get('metainfo') or {}))
    os.makedirs(args.save_dir, exist_ok=True)
    for name, confusion in task_confusions(samples, tasks, names).items():
        classes = class_names(meta, name, tasks[name])
        iou = tasks[name].summarize([confusion])['mIoU']
        path = osp.join(args.save_dir, f'confusion_matrix_{name}.png')
        plot(confusion, classes, f'{name} (mIoU {iou:.2f})', path)
        print(f'{name}: mIoU {iou:.2f}, saved to {path}')
        for index, value in enumerate(class_ious(confusion)):
            if not np.isnan(value):
                label = classes[index] if index < len(classes) else \
                    str(index)
                print(f'  {label}: IoU {value:.2f}')


if __name__ == '__main__':
    main()
