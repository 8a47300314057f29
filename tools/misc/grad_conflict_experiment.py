"""Gradient conflict with and without expert squads, on the demo data.

Trains SquadNet-small (``configs/grad_conflict/squad_demo.py``) and the
shared-encoder baseline (``shared_encoder_demo.py``: same trunk without
squads or routing) with the same data, schedule and seed, both with
``GradConflictHook`` on the backbone, then writes ``docs/grad_conflict.md``
(mean cosine, conflict rate, metrics and delta_m) and
``docs/grad_conflict.png`` (the curves). About 10 minutes on 2 CPU cores.

delta_m is measured against single-task references: the shared-encoder
trunk with one head, trained on one task with the same schedule. Training
the four of them takes longer than the experiment itself, so
``--single-task`` trains them and stores their metrics in
``docs/grad_conflict_single_task.json``, which later runs read.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import time
from statistics import mean
from typing import Dict, List

from mmengine.config import Config
from run_demo import ROOT, ensure_demo_data, run

from mmsquad.evaluation import delta_m
from mmsquad.evaluation.trivial_baseline import constant_baseline
from mmsquad.registry import METRICS as METRIC_REGISTRY
from mmsquad.utils import register_all_modules
from mmsquad.utils.run_logs import read_scalars
from mmsquad.utils.single_task import \
    single_task_config as derive_single_task_config
from mmsquad.visualization.grad_conflict_plot import (conflict_curves,
                                                      plot_conflict_curves)

RUNS = {'SquadNet-small': 'configs/grad_conflict/squad_demo.py',
        'shared encoder': 'configs/grad_conflict/shared_encoder_demo.py'}
METRICS = {'semseg/mIoU': 'semseg mIoU', 'human_parts/mIoU': 'parts mIoU',
           'sal/maxF': 'sal maxF', 'normals/mean': 'normals mean (deg)'}
SINGLE_TASK_TRUNK = RUNS['shared encoder']
REFERENCES = 'docs/grad_conflict_single_task.json'


def final_metrics(records: List[dict], keys) -> Dict[str, float]:
    """``keys`` from the last validation in a run's scalar records."""
    evaluated = [r for r in records if all(k in r for k in keys)]
    if not evaluated:
        raise KeyError(f'the run logged no validation with {sorted(keys)}')
    return {key: evaluated[-1][key] for key in keys}


def schedule_of(config: str) -> dict:
    """What single-task references must share with the compared runs."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    return dict(max_epochs=cfg.train_cfg.max_epochs, seed=cfg.randomness.seed,
                batch_size=cfg.train_dataloader.batch_size)


def single_task_config(task: str, out_file: str) -> str:
    """Write the single-task reference config of ``task`` (the trunk of
    :data:`SINGLE_TASK_TRUNK` with ``task``'s head only) to ``out_file``."""
    cfg = derive_single_task_config(
        Config.fromfile(osp.join(ROOT, SINGLE_TASK_TRUNK)), task)
    os.makedirs(osp.dirname(out_file), exist_ok=True)
    cfg.dump(out_file)
    return out_file


def train_single_task_references(work_dir: str) -> dict:
    """Train one single-task model per task; their metrics and schedule."""
    start = time.perf_counter()
    metrics = {}
    for task in sorted({key.split('/')[0] for key in METRICS}):
        task_dir = osp.join(work_dir, f'single_task_{task}')
        config = single_task_config(
            task, osp.join(ROOT, task_dir, f'single_task_{task}_demo.py'))
        run('tools/train.py', config, '--work-dir', task_dir)
        keys = [k for k in METRICS if k.startswith(f'{task}/')]
        metrics.update(final_metrics(read_scalars(osp.join(ROOT, task_dir)),
                                     keys))
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                            cwd=ROOT, capture_output=True, text=True)
    return dict(metrics=metrics, trunk=SINGLE_TASK_TRUNK,
                schedule=schedule_of(SINGLE_TASK_TRUNK),
                commit=commit.stdout.strip() or 'unknown',
                minutes=round((time.perf_counter() - start) / 60, 1))


def load_single_task_references() -> dict:
    """The stored references, checked against the current schedule.

    Raises:
        FileNotFoundError: When none are stored.
        ValueError: When they were trained with another schedule.
    """
    path = osp.join(ROOT, REFERENCES)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{REFERENCES} is missing: run this script with --single-task '
            'once to train the single-task references')
    with open(path) as f:
        references = json.load(f)
    expected = schedule_of(SINGLE_TASK_TRUNK)
    if references.get('schedule') != expected:
        raise ValueError(
            f'{REFERENCES} was trained with {references.get("schedule")}, '
            f'the experiment now uses {expected}: run with --single-task')
    return references


def write_report(results: dict, references: dict, constant: dict,
                 out_md: str, png_name: str, minutes: float) -> None:
    header = ('| run | mean cosine | conflict rate | ' +
              ' | '.join(METRICS.values()) + ' | delta_m (%) |')
    rows = [header, '|' + '---|' * (4 + len(METRICS))]
    lower_is_better = METRIC_REGISTRY.build(
        Config.fromfile(RUNS['SquadNet-small']).val_evaluator).lower_is_better

    def row(label: str, metrics: dict, cos: str = '-',
            rate: str = '-') -> str:
        values = ' | '.join(f'{metrics[k]:.2f}' for k in METRICS)
        change = delta_m(metrics, references['metrics'], lower_is_better)
        return f'| {label} | {cos} | {rate} | {values} | {change:+.2f} |'

    for label, result in results.items():
        rows.append(row(label, result['metrics'], f'{result["cos_mean"]:.3f}',
                        f'{result["conflict_rate"]:.3f}'))
    rows.append(row('single-task references', references['metrics']))
    rows.append(row('constant predictor', constant))
    epochs = references['schedule']['max_epochs']
    text = f"""# Gradient conflict with and without expert squads

Measured by `tools/misc/grad_conflict_experiment.py` on the embedded demo
data (`make demo`'s data, 96x96), both models trained for {epochs} epochs
with the same data order, schedule and seed. `GradConflictHook` measured
the four tasks' gradients of the whole backbone every 10 iterations; the
table gives the mean over all measurements of the mean pairwise cosine and
of the conflict rate (fraction of task pairs with a negative cosine), and
the validation metrics after training. Training and evaluating both took
{minutes:.1f} minutes.

delta_m is the mean relative change against single-task references
(higher is better; the sign is flipped for the normals' mean angle): the
shared-encoder trunk with one head, trained on one task with the same
schedule and seed (`--single-task`: {references['minutes']} minutes for
the four, stored in `{REFERENCES}`, commit {references['commit']}). The
constant predictor (the best constant per task,
`tools/analysis_tools/trivial_baseline.py`) is the floor: a metric at its
level means the task was not learned in this short schedule.

{chr(10).join(rows)}

![gradient conflict curves]({png_name})

These are the numbers as measured on one short CPU run each; they say
nothing about significance (one seed), and the backbones differ in more
than the squads (the baseline's heads see all 768 channels).
"""
    with open(out_md, 'w') as f:
        f.write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/grad_conflict')
    parser.add_argument('--out', default='docs/grad_conflict.md')
    parser.add_argument(
        '--single-task', action='store_true',
        help=f'first train the four single-task references and store their '
        f'metrics in {REFERENCES} (about 14 minutes on 2 CPU cores)')
    args = parser.parse_args()
    os.chdir(ROOT)  # the configs' data roots are relative to it
    register_all_modules()
    ensure_demo_data()
    if args.single_task:
        references = train_single_task_references(args.work_dir)
        with open(osp.join(ROOT, REFERENCES), 'w') as f:
            json.dump(references, f, indent=2)
            f.write('\n')
    references = load_single_task_references()
    start = time.perf_counter()
    results, curves = {}, {}
    for label, config in RUNS.items():
        work_dir = osp.join(args.work_dir, osp.basename(config)[:-3])
        run('tools/train.py', config, '--work-dir', work_dir)
        records = read_scalars(osp.join(ROOT, work_dir))
        curves[label] = conflict_curves(records)
        metrics = final_metrics(records, METRICS)
        results[label] = dict(
            cos_mean=mean(curves[label]['cos_mean'][1]),
            conflict_rate=mean(curves[label]['conflict_rate'][1]),
            metrics=metrics)
    constant = constant_baseline(Config.fromfile(RUNS['SquadNet-small']))
    out_md = osp.join(ROOT, args.out)
    png = osp.splitext(out_md)[0] + '.png'
    plot_conflict_curves(curves, png)
    write_report(results, references, constant, out_md, osp.basename(png),
                 (time.perf_counter() - start) / 60)
    print(open(out_md).read())


if __name__ == '__main__':
    main()
