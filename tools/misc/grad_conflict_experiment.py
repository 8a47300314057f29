"""Gradient conflict and multi-task performance of expert squads against
the comparison architectures, with and without gradient surgery, over
seeds, on the demo data.

Every run is the schedule of ``configs/grad_conflict/squad_demo.py`` (the
embedded demo data at 96x96, Adam 1.5e-3, batch 4, 8 epochs, float32,
``GradConflictHook`` every 10 iterations on the parameters each model
declares shared) with one model, training method and seed put into it
(:func:`mmsquad.utils.experiment.derive_run_config`). Each model is the
``model`` of its PASCAL-Context config, unchanged: the models are scaled to
the demo the same way, by its image size, data and schedule alone.

``make experiment`` runs the whole grid (6 models x 3 methods x 3 seeds
and the single-task references): about 35 hours on 2 Intel Xeon cores in
two one-thread processes side by side. Machines and their load differ:
the report's runtime table gives every stored run's minutes by model,
method and machine (:func:`runtime_rows`). Each finished run's summary
(metrics, conflict statistics and measurements, commit, minutes, config
fingerprint) is stored in ``docs/grad_conflict_runs/`` and committed, and
the run is not trained again, in this checkout or a fresh one: the grid
can be run in parts (``--models``, ``--methods``, ``--seeds``) and
resumed (a run stopped part-way starts again from its first iteration);
the report covers every stored run of the grid, whichever part
trained it, and names the missing ones. A run that fails (a diverged
loss) is stored as failed, with why, and listed as such; it is not
trained again until its summary is deleted. A stored run of another
config (a changed schedule) is trained again.

delta_m is measured against single-task references (each task's main
metric): the shared-encoder trunk with one head, trained on one task with
the same schedule and seed 0
(``--single-task`` trains them and stores their metrics and config
fingerprints in ``docs/grad_conflict_single_task.json``; a file whose
fingerprints no longer match the schedule is refused). Every run, the
references included, is scored by its last validation.
"""
import argparse
import itertools
import json
import math
import os
import os.path as osp
import sys
from functools import lru_cache
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config
from run_demo import ROOT, ensure_demo_data

from mmsquad.datasets import configured_tasks
from mmsquad.evaluation import delta_m
from mmsquad.registry import METRICS as METRIC_REGISTRY
from mmsquad.tasks import build_task
from mmsquad.utils import register_all_modules

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.method_catalogue import training_methods  # noqa: E402
from toolkit.trivial_baseline import constant_baseline  # noqa: E402
from toolkit.experiment import (derive_run_config, fingerprint,
                                      last_validation, mean_conflict,
                                      mean_std, paired_comparison,
                                      run_counts, run_echoing_stderr,
                                      run_record, run_summary, shown_path,
                                      stored_failure, train_grid, train_once,
                                      validations)
from toolkit.single_task import single_task_config  # noqa: E402
from toolkit.grad_conflict_plot import (conflict_curves,
                                                      iteration_label,
                                                      moving_average,
                                                      plot_conflict_curves)

SCHEDULE = 'configs/grad_conflict/squad_demo.py'
#: The compared models: ``{label: the config whose model it is}``.
MODELS = {
    'SquadNet-small': 'configs/squad/pascal_ctx.py',
    'no-squad ablation': 'configs/baselines/no_squad_pascal_ctx.py',
    'shared encoder': 'configs/baselines/shared_encoder_pascal_ctx.py',
    'shared ResNet-18': 'configs/baselines/shared_r18_pascal_ctx.py',
    'MTAN': 'configs/baselines/mtan_pascal_ctx.py',
    'Cross-Stitch': 'configs/baselines/cross_stitch_pascal_ctx.py',
}
METHODS = ('plain', 'PCGrad', 'GradVac')
SEEDS = (0, 1, 2)
#: The single-task references' trunk (with one head each), and their seed.
SINGLE_TASK_MODEL = 'shared encoder'
SINGLE_TASK_SEED = 0
REFERENCES = 'docs/grad_conflict_single_task.json'
#: Where the runs' summaries are stored.
RUNS = 'docs/grad_conflict_runs'
METRICS = {'semseg/mIoU': 'semseg mIoU', 'human_parts/mIoU': 'parts mIoU',
           'sal/mIoU': 'sal mIoU', 'sal/maxF': 'sal maxF',
           'normals/mean': 'normals mean (deg)'}
#: The parameter group compared across models (GradConflictHook's).
GROUP = 'shared'
#: A task is learned when its metric beats the constant predictor's by
#: this fraction of the constant's value.
LEARNED_MARGIN = 0.1
#: The claims the report decides: (model, compared with).
CLAIMS = (('SquadNet-small', 'no-squad ablation'),
          ('SquadNet-small', 'shared encoder'))


@lru_cache(maxsize=None)
def load_config(path: str) -> Config:
    """``Config.fromfile`` of a path relative to the repository, once
    (:func:`derive_run_config` copies what it takes)."""
    return Config.fromfile(osp.join(ROOT, path))


def run_config(model: str, method: str, seed: int) -> Config:
    """The config of one run of the grid."""
    return derive_run_config(load_config(SCHEDULE),
                             load_config(MODELS[model]).model,
                             training_methods(num_tasks=4)[method], seed)


def reference_configs() -> Dict[str, Config]:
    """``{task: config}`` of the single-task references."""
    cfg = run_config(SINGLE_TASK_MODEL, 'plain', SINGLE_TASK_SEED)
    return {task: single_task_config(cfg, task) for task in cfg.model.heads}


def train(config_file: str, work_dir: str) -> None:
    """Train with this checkout's ``tools/train.py`` and mmsquad (not the
    installed one, which may be another checkout) in a fresh process."""
    print('>> train', config_file, flush=True)
    python_path = [ROOT] + [p for p in [os.environ.get('PYTHONPATH')] if p]
    run_echoing_stderr(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config_file,
         '--work-dir', work_dir], cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(python_path)))


def exit_if_failed(failed: List[str]) -> None:
    """Exit with an error naming the failed runs' work dirs (the report
    lists them as failed), if there are any."""
    if failed:
        sys.exit(f'{len(failed)} run(s) failed; their logs are in '
                 f'{", ".join(failed)}')


def slug(label: str) -> str:
    """``label`` as a directory name."""
    return label.lower().replace(' ', '_').replace('-', '_')


def train_single_task_references(work_dir: str) -> dict:
    """Train the single-task references (those not trained yet); their
    metrics, fingerprints, commits and training minutes."""
    metrics, fingerprints, work_dirs = {}, {}, []
    lower_is_better = lower_is_better_keys()
    for task, cfg in reference_configs().items():
        work_dirs.append(osp.join(work_dir, f'single_task_{task}'))
        records = train_once(cfg, work_dirs[-1], train, ROOT)
        # One term per task in delta_m: its main metric.
        metrics.update(last_validation(
            records, [build_task(task).main_metric_key]))
        fingerprints[task] = fingerprint(cfg)
    return dict(metrics=metrics, fingerprints=fingerprints,
                lower_is_better=sorted(set(metrics) & lower_is_better),
                trunk=SINGLE_TASK_MODEL, seed=SINGLE_TASK_SEED,
                commit=run_counts([run_record(w)['commit']
                                   for w in work_dirs]),
                minutes=round(sum(run_record(w)['minutes']
                                  for w in work_dirs), 1))


def load_single_task_references(path: str) -> dict:
    """The stored references, checked against today's derivation.

    Raises:
        FileNotFoundError: When none are stored.
        ValueError: When they were trained with another config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} is missing: run this script with --single-task once to '
            'train the single-task references')
    with open(path) as f:
        references = json.load(f)
    expected = {task: fingerprint(cfg)
                for task, cfg in reference_configs().items()}
    stale = sorted(task for task in expected
                   if references.get('fingerprints', {}).get(task)
                   != expected[task])
    if stale:
        raise ValueError(
            f'{path} is stale: the references of {stale} were trained with '
            f'another config than {SCHEDULE} now derives (fingerprints '
            f'{references.get("fingerprints")}, expected {expected}); '
            'run with --single-task to train them again')
    return references


def lower_is_better_keys() -> set:
    """The metric keys of the schedule's evaluator where lower is better."""
    cfg = load_config(SCHEDULE)
    metric = METRIC_REGISTRY.build(cfg.val_evaluator)
    metric.dataset_meta = dict(
        tasks=configured_tasks(cfg.val_dataloader.dataset))
    return set(metric.lower_is_better)


def summarise(records: List[dict]) -> dict:
    """What is stored of a run: its validations, final metrics, conflict
    statistics (means over its measurements, per parameter group) and the
    measurements of :data:`GROUP`."""
    return dict(metrics=last_validation(records, METRICS),
                by_epoch=validations(records, METRICS),
                conflict=mean_conflict(records),
                measurements=conflict_curves(records, GROUP))


def result(summary: dict, references: dict) -> dict:
    """A stored run with its delta_m and its conflict curves averaged over
    an epoch's measurements (``window`` of them)."""
    steps = summary['measurements']['cos_mean'][0]
    window = len(steps) // load_config(SCHEDULE).train_cfg.max_epochs
    return dict(summary, window=window,
                curves=moving_average(summary['measurements'], window),
                delta_m=delta_m(summary['metrics'], references['metrics'],
                                references['lower_is_better']))


def run_dir(work_dir: str, model: str, method: str, seed: int) -> str:
    """Where the run of ``model``, ``method`` and ``seed`` trains."""
    return osp.join(work_dir, slug(model), slug(method), f'seed{seed}')


def run_summary_path(runs: str, model: str, method: str, seed: int) -> str:
    """Where the summary of the run of ``model``, ``method`` and ``seed``
    is stored."""
    return osp.join(runs, slug(model), slug(method), f'seed{seed}.json')


def finished_results(work_dir: str, runs: str,
                     references: dict) -> Dict[tuple, dict]:
    """``{(model, method, seed): result}`` of every run of the grid stored
    in ``runs`` or finished in ``work_dir`` (and then stored), whichever
    command trained it: the report of a part covers the parts run
    before."""
    results = {}
    for model, method, seed in itertools.product(MODELS, METHODS, SEEDS):
        summary = run_summary(run_config(model, method, seed),
                              run_dir(work_dir, model, method, seed),
                              run_summary_path(runs, model, method, seed),
                              summarise)
        if summary is not None:
            results[(model, method, seed)] = result(summary, references)
    return results


def failed_runs(runs: str) -> Dict[tuple, str]:
    """``{(model, method, seed): why it failed}`` of every run of the grid
    whose failure is stored in ``runs``."""
    failures = {}
    for model, method, seed in itertools.product(MODELS, METHODS, SEEDS):
        reason = stored_failure(run_summary_path(runs, model, method, seed),
                                run_config(model, method, seed))
        if reason is not None:
            failures[(model, method, seed)] = reason
    return failures


def cell(values: Sequence[float], digits: int = 2) -> str:
    """``mean ± std`` (the mean alone for one value)."""
    mean, std = mean_std(values)
    if len(values) < 2:
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {std:.{digits}f}'


def conflict_cells(runs: Sequence[dict], group: str) -> str:
    """The mean cosine and conflict rate columns of ``runs``."""
    return ' | '.join(cell([r['conflict'][group][stat] for r in runs], 3)
                      for stat in ('cos_mean', 'conflict_rate'))


#: What the claims compare: (name, value of a run, the claimed direction).
CLAIMED = (('conflict rate',
            lambda r: r['conflict'][GROUP]['conflict_rate'], 'less'),
           ('mean cosine', lambda r: r['conflict'][GROUP]['cos_mean'],
            'more'),
           ('delta_m (%)', lambda r: r['delta_m'], 'more'))


def verdict(test: dict, claimed: str) -> str:
    """Whether a paired test decides a claim of a lower (``'less'``) or
    higher (``'more'``) value: p < 0.05 and every pair of one sign."""
    if not test['p'] < 0.05 or 0 < test['negative'] < test['n']:
        return 'undecided'
    lower = test['negative'] == test['n']
    return 'holds' if lower == (claimed == 'less') else 'the opposite holds'


def comparison_rows(results: dict, methods: Sequence[str],
                    seeds: Sequence[int]) -> List[str]:
    """Paired (by seed) differences for :data:`CLAIMS`."""
    rows = ['| claim | method | quantity | differences by seed | mean ± std '
            '| negative | p (paired t) | verdict |', '|' + '---|' * 8]
    for model, other in CLAIMS:
        for method in methods:
            pairs = [(results[(model, method, s)], results[(other, method, s)])
                     for s in seeds if (model, method, s) in results
                     and (other, method, s) in results]
            for name, value, claimed in CLAIMED if pairs else ():
                test = paired_comparison([value(a) for a, _ in pairs],
                                         [value(b) for _, b in pairs])
                differences = ', '.join(f'{d:+.3f}'
                                        for d in test['differences'])
                p = '-' if math.isnan(test['p']) else f'{test["p"]:.4f}'
                rows.append(
                    f'| {name} of {model} {claimed} than {other} | {method} '
                    f'| {name} | {differences} | '
                    f'{cell(test["differences"], 3)} | '
                    f'{test["negative"]}/{test["n"]} | {p} | '
                    f'{verdict(test, claimed)} |')
    return rows


def not_learned(runs: Dict[int, dict], label: str, constant: dict,
                lower_is_better: set) -> List[str]:
    """The tasks of ``runs`` (by seed) that do not beat the constant
    predictor by :data:`LEARNED_MARGIN` of its value."""
    failures = []
    for seed, run in runs.items():
        for key, floor in constant.items():
            value = run['metrics'][key]
            margin = floor - value if key in lower_is_better \
                else value - floor
            if margin < LEARNED_MARGIN * abs(floor):
                failures.append(f'{label} / seed {seed}: {key} {value:.2f} '
                                f'(constant {floor:.2f})')
    return failures


def missing_runs(results: dict, failures: dict) -> List[str]:
    """The runs of the grid neither in ``results`` nor failed, by model and
    method."""
    missing = []
    for model, method in itertools.product(MODELS, METHODS):
        seeds = [str(s) for s in SEEDS if (model, method, s) not in results
                 and (model, method, s) not in failures]
        if seeds:
            missing.append(f'{model} / {method} / seed{"s" * (len(seeds) > 1)}'
                           f' {", ".join(seeds)}')
    return missing


def schedule_rows(results: dict, constant: dict) -> List[str]:
    """Every validation of the plain seed-0 runs: how far each model has
    got at each epoch of the schedule (the pilot it was chosen from)."""
    rows = ['| model | epoch | ' + ' | '.join(METRICS.values()) + ' |',
            '|' + '---|' * (2 + len(METRICS))]
    for model in MODELS:
        run = results.get((model, 'plain', 0))
        rows += [f'| {model} | {v["step"]} | ' +
                 ' | '.join(f'{v[k]:.2f}' for k in METRICS) + ' |'
                 for v in (run['by_epoch'] if run else ())]
    rows.append('| constant predictor | - | ' +
                ' | '.join(f'{constant[k]:.2f}' for k in METRICS) + ' |')
    return rows


def minutes_range(values: Sequence[float]) -> str:
    """``'87'`` for one value, ``'102 to 158'`` for several."""
    low, high = f'{min(values):.0f}', f'{max(values):.0f}'
    return low if low == high else f'{low} to {high}'


def runtime_rows(results: dict) -> List[str]:
    """The wall-clock minutes of the runs in ``results`` (their stored
    ``minutes``), by model, method and the ``machine`` they trained on:
    how many runs and their range."""
    rows = ['| model | method | machine | runs | minutes per run |',
            '|---|---|---|---|---|']
    for model, method in itertools.product(MODELS, METHODS):
        minutes: Dict[str, List[float]] = {}
        for seed in SEEDS:
            run = results.get((model, method, seed))
            if run is not None:
                minutes.setdefault(run['machine'], []).append(run['minutes'])
        rows += [f'| {model} | {method} | {machine} | {len(values)} | '
                 f'{minutes_range(values)} |'
                 for machine, values in sorted(minutes.items())]
    return rows


def curve_window(results: dict) -> int:
    """The moving-average window of the curves in ``results``: one epoch's
    measurements, which every run of the grid shares (1 with no runs).

    Raises:
        ValueError: when the runs' windows differ.
    """
    windows = {run['window'] for run in results.values()} or {1}
    if len(windows) > 1:
        raise ValueError('the runs measured different numbers of '
                         f'gradients per epoch: {sorted(windows)}')
    return windows.pop()


def plot_curves_by_method(results: dict, prefix: str) -> Dict[str, str]:
    """``{method: PNG}``: one picture per method, ``<prefix>_<method>.png``,
    of its models' conflict curves over seeds."""
    pngs = {}
    for method in METHODS:
        curves: Dict[str, list] = {}
        for (model, run_method, _), result in results.items():
            if run_method == method:
                curves.setdefault(model, []).append(result['curves'])
        if curves:
            pngs[method] = f'{prefix}_{slug(method)}.png'
            plot_conflict_curves(curves, pngs[method], GROUP,
                                 iteration_label(curve_window(results)))
    return pngs


def unlabelled_rule_text(results: dict) -> str:
    """Which runs counted an unlabelled task's pairs as cosine 0 (measured
    before ``GradConflictHook`` left such tasks out and logged ``pairs``),
    in words."""
    old = sum('pairs' not in run['conflict'][GROUP]
              for run in results.values())
    old_rule = ('its pairs count as cosine 0, not as a conflict (which pulls '
                'the mean cosine towards 0 and the conflict rate down), in '
                'every run alike; such batches come at the same iterations '
                'for every model of a seed')
    new_rule = ('`GradConflictHook` leaves such a task out of the '
                'measurement (its pairs are not counted; it logs how many '
                'pairs each measurement had, `pairs`)')
    if old == len(results):
        return (f'Every run below was measured by the earlier rule: '
                f'{old_rule}. Runs measured now: {new_rule}.')
    if not old:
        return f'{new_rule[0].upper()}{new_rule[1:]}.'
    return (f'{old} of the {len(results)} runs below (those without '
            f'`pairs` in their summaries) were measured by the earlier rule: '
            f'{old_rule}; the others: {new_rule}.')


def write_report(results: dict, failures: Dict[tuple, str],
                 references: dict, constant: dict, out_md: str,
                 png_names: Dict[str, str], runs_dir: str = RUNS) -> None:
    """``docs/grad_conflict.md`` from the finished runs of the grid in
    ``results`` and the ``failures`` of others, stored in ``runs_dir``,
    with the curves' pictures ``{method: file name}``."""
    lower_is_better = lower_is_better_keys()
    constant = {key: constant[key] for key in METRICS}
    rows = ['| model | method | seeds | ' + ' | '.join(METRICS.values()) +
            ' | delta_m (%) | mean cosine | conflict rate |',
            '|' + '---|' * (6 + len(METRICS))]
    level_rows = ['| model | method | group | mean cosine | conflict rate |',
                  '|---|---|---|---|---|']
    unlearned = []
    for model in MODELS:
        for method in METHODS:
            runs = {s: results[(model, method, s)] for s in SEEDS
                    if (model, method, s) in results}
            if not runs:
                continue
            values = ' | '.join(cell([r['metrics'][k] for r in runs.values()])
                                for k in METRICS)
            change = cell([r['delta_m'] for r in runs.values()])
            rows.append(f'| {model} | {method} | {len(runs)} | {values} | '
                        f'{change} | {conflict_cells(runs.values(), GROUP)} |')
            level_rows += [
                f'| {model} | {method} | {group} | '
                f'{conflict_cells(runs.values(), group)} |'
                for group in next(iter(runs.values()))['conflict']
                if group not in (GROUP, 'backbone')]
            unlearned += not_learned(runs, f'{model} / {method}', constant,
                                     lower_is_better)
    reference_values = ' | '.join(
        f'{references["metrics"][k]:.2f}' if k in references['metrics']
        else '-' for k in METRICS)
    rows.append(f'| single-task references | plain | 1 | {reference_values}'
                ' | +0.00 | - | - |')
    floor_change = delta_m(constant, references['metrics'], lower_is_better)
    rows.append('| constant predictor | - | - | ' +
                ' | '.join(f'{v:.2f}' for v in constant.values()) +
                f' | {floor_change:+.2f} | - | - |')
    minutes = sum(run['minutes'] for run in results.values())
    commits = run_counts([run['commit'] for run in results.values()])
    machines = run_counts([run['machine'] for run in results.values()])
    cfg = load_config(SCHEDULE)
    learned = ('Every task of every run beats the constant predictor by more '
               f'than {LEARNED_MARGIN:.0%} of its value.' if not unlearned
               else 'Tasks that did not beat the constant predictor by '
               f'{LEARNED_MARGIN:.0%} of its value (not learned in this '
               'schedule):\n\n' + '\n'.join(f'- {u}' for u in unlearned))
    missing = missing_runs(results, failures)
    total = len(MODELS) * len(METHODS) * len(SEEDS)
    coverage = ('Every run of the grid is in.' if len(results) == total else
                f'**Partial: {len(results)} of the grid\'s {total} runs are '
                'in.**')
    if missing:
        coverage += (' `make experiment` trains the rest and keeps the '
                     'finished ones. Not in yet:\n\n' +
                     '\n'.join(f'- {m}' for m in missing))
    if failures:
        coverage += (
            '\n\nFailed, and left out (`make experiment` does not train '
            'them again until their summaries are deleted):\n\n' +
            '\n'.join(f'- {model} / {method} / seed {seed}: {reason}'
                      for (model, method, seed), reason in failures.items()))
    unlabelled_rule = unlabelled_rule_text(results)
    pictures = '\n\n'.join(f'![gradient conflict curves, {method}]({name})'
                             for method, name in png_names.items())
    text = f"""# Gradient conflict with and without expert squads

Measured by `tools/misc/grad_conflict_experiment.py` on the embedded demo
data (`make demo`'s data: 320 training and 100 validation images, 96x96).
Every run has the schedule of `{SCHEDULE}`: Adam, learning rate 1.5e-3 with
poly decay, batch {cfg.train_dataloader.batch_size},
{cfg.train_cfg.max_epochs} epochs, float32, the same data order per seed.
Each model is the `model` of its PASCAL-Context config, unchanged (the same
scaling for all: the demo's image size, data and schedule). Methods:
`plain` (equal weights, no surgery), `PCGrad` and `GradVac` (mmsquad's, on
the shared parameters). Seeds: {', '.join(map(str, SEEDS))}. The
runs below took {minutes:.0f} minutes of training (each run's wall-clock
minutes, summed), at commits {commits}, on {machines};
their summaries are in `{runs_dir}/`.
Another machine gives other floats for the same seed and data order, so
a run repeated elsewhere is another sample, not a copy.

`GradConflictHook` measured the four tasks' gradients of the parameters
each model declares shared (`shared_parameters()`, the same definition for
all) every 10 iterations; mean cosine is the mean pairwise cosine and
conflict rate the fraction of task pairs with a negative cosine, averaged
over the run's measurements. A batch without a person has no human-parts
label, so that task's gradient is zero. {unlabelled_rule} Metrics are from
the last validation.
delta_m is the mean relative change of each task's main metric against
single-task references (the shared-encoder trunk with one head, same
schedule, seed {references['seed']}, {references['minutes']} minutes, at
commits {references['commit']}; `{REFERENCES}`): higher is better. The
constant predictor (the best constant per task) is the floor. Values are
mean ± sample standard deviation over seeds.

{coverage}

{chr(10).join(rows)}

{learned}

The gradient conflict during training, one picture per method: the
`{GROUP}` group, each seed's measurements (every 10 iterations) as their
moving average over {curve_window(results)} (one epoch), the mean over
seeds in a band from the lowest to the highest seed.

{pictures}

## Does the claim hold?

Paired by seed (the same seed gives the same data order): the difference
model minus compared model, how many seeds have it negative, and the
two-sided paired t-test. A claim is decided only when p < 0.05 and every
seed agrees in sign; with three seeds that needs a consistent, large
effect, and anything else is reported as undecided.

{chr(10).join(comparison_rows(results, METHODS, SEEDS))}

## Per level

The same statistics on each part of the shared parameters (the backbone's
children: SquadNet's stem and stages, ResNet-18's layers, MTAN's trunk and
shared refinement, Cross-Stitch's branches and stitch units).

{chr(10).join(level_rows)}

## Runtime

Each run's wall-clock minutes of training, as stored with it, by the
machine it trained on. Runs trained as one-thread processes, two side by
side on 2 cores, some beside other jobs, so one run's minutes vary with
the machine and its load.

{chr(10).join(runtime_rows(results))}

## The schedule

Every validation of the plain seed-0 runs, the pilot the schedule's
length was chosen from: it has to let every task of every model clear the
constant predictor by {LEARNED_MARGIN:.0%} of its value (checked for
every run above).

{chr(10).join(schedule_rows(results, constant))}
"""
    with open(out_md, 'w') as f:
        f.write(text)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', choices=list(MODELS),
                        default=list(MODELS))
    parser.add_argument('--methods', nargs='+', choices=METHODS,
                        default=list(METHODS))
    parser.add_argument('--seeds', nargs='+', type=int, choices=SEEDS,
                        default=list(SEEDS))
    parser.add_argument('--work-dir', default='work_dirs/grad_conflict')
    parser.add_argument('--runs', default=RUNS,
                        help='where the runs\' summaries are stored')
    what = parser.add_mutually_exclusive_group()
    what.add_argument('--report-only', action='store_true',
                      help='write the report from the stored runs, '
                      'training none')
    parser.add_argument('--out', default='docs/grad_conflict.md')
    what.add_argument(
        '--single-task', action='store_true',
        help=f'first train the four single-task references and store them '
        f'in {REFERENCES} (about 2 hours on 2 CPU cores)')
    args = parser.parse_args(argv)
    work_dir, runs, out = map(osp.abspath,
                              (args.work_dir, args.runs, args.out))
    os.chdir(ROOT)  # the configs' data roots are relative to it
    register_all_modules()
    ensure_demo_data()
    if args.single_task:
        references = train_single_task_references(work_dir)
        with open(REFERENCES, 'w') as f:
            json.dump(references, f, indent=2)
            f.write('\n')
    references = load_single_task_references(REFERENCES)
    grid = () if args.report_only else itertools.product(
        args.seeds, args.models, args.methods)
    failed = train_grid(
        ((run_config(model, method, seed),
          run_dir(work_dir, model, method, seed),
          run_summary_path(runs, model, method, seed))
         for seed, model, method in grid),
        summarise, train, ROOT)
    results = finished_results(work_dir, runs, references)
    pngs = plot_curves_by_method(results, osp.splitext(out)[0])
    write_report(results, failed_runs(runs), references,
                 constant_baseline(load_config(SCHEDULE)), out,
                 {method: osp.basename(png) for method, png in pngs.items()},
                 shown_path(runs, ROOT))
    print(f'wrote {out} and {", ".join(pngs.values())}')
    exit_if_failed(failed)


if __name__ == '__main__':
    main()
