"""Experiment grids: run configs derived from one schedule, cached runs,
stale references refused, and the statistics that compare the runs."""
import importlib
import itertools
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict

from conftest import REPO
from toolkit.method_catalogue import training_methods
from toolkit.experiment import (RUN_RECORD, derive_run_config,
                                      failure_reason, fingerprint,
                                      mean_conflict, machine,
                                      paired_comparison, run_counts,
                                      run_echoing_stderr, run_record,
                                      shown_path, store_failure,
                                      train_and_store, train_once)
from toolkit.grad_conflict_plot import (conflict_curves,
                                                      plot_conflict_curves)

#: What a run of a grid may change: its model, method and seed.
PER_RUN_KEYS = ('model', 'optim_wrapper', 'randomness')


def tool(name: str):
    """``tools/misc/<name>.py`` as a module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(osp.join(REPO, 'tools', 'misc'))
        return importlib.import_module(name)


@pytest.fixture(scope='module')
def experiment():
    return tool('grad_conflict_experiment')


def test_derived_config_takes_model_method_and_seed_only():
    schedule = Config(dict(
        model=dict(type='A'), train_cfg=dict(max_epochs=3),
        optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic',
                           optimizer=dict(type='Adam', lr=0.1)),
        randomness=dict(seed=0, deterministic=True)))
    method = dict(optim_wrapper=dict(type='OptimWrapper'),
                  loss_balancer=dict(type='DynamicWeightAverage'))
    cfg = derive_run_config(schedule, ConfigDict(type='B'), method, 7)
    assert cfg.model == dict(type='B', loss_balancer=dict(
        type='DynamicWeightAverage'))
    # The optimizer stays; fp16's loss scale goes with the Amp wrapper.
    assert cfg.optim_wrapper == dict(type='OptimWrapper', optimizer=dict(
        type='Adam', lr=0.1))
    assert cfg.randomness == dict(seed=7, deterministic=True)
    assert cfg.train_cfg == schedule.train_cfg
    assert schedule.model == dict(type='A')  # left unchanged
    assert schedule.optim_wrapper.loss_scale == 'dynamic'


def test_grid_runs_share_everything_but_model_method_and_seed(experiment):
    schedule = experiment.load_config(experiment.SCHEDULE).to_dict()
    shared = {k: v for k, v in schedule.items() if k not in PER_RUN_KEYS}
    digests = set()
    for model, method, seed in itertools.product(
            experiment.MODELS, experiment.METHODS, experiment.SEEDS):
        cfg = experiment.run_config(model, method, seed).to_dict()
        assert {k: v for k, v in cfg.items()
                if k not in PER_RUN_KEYS} == shared, (model, method, seed)
        published = Config.fromfile(
            osp.join(REPO, experiment.MODELS[model])).model
        assert cfg['model'] == published.to_dict()
        assert cfg['optim_wrapper']['optimizer'] == \
            schedule['optim_wrapper']['optimizer']
        assert cfg['optim_wrapper']['type'] == \
            training_methods(4)[method]['optim_wrapper']['type']
        assert cfg['randomness']['seed'] == seed
        digests.add(fingerprint(Config(cfg)))
    # Every run of the grid is a different config; the same run, the same.
    grid = (len(experiment.MODELS) * len(experiment.METHODS) *
            len(experiment.SEEDS))
    assert len(digests) == grid
    assert fingerprint(experiment.run_config('MTAN', 'PCGrad', 1)) in digests
    # The single-task references have the schedule and one task each.
    for task, cfg in experiment.reference_configs().items():
        assert list(cfg.model.heads) == [task]
        assert cfg.train_cfg == schedule['train_cfg']
        assert cfg.param_scheduler == schedule['param_scheduler']
        assert cfg.train_dataloader.dataset.data_root == \
            schedule['train_dataloader']['dataset']['data_root']
        assert cfg.randomness.seed == experiment.SINGLE_TASK_SEED


def test_every_method_run_differs_from_the_demo_in_its_method_only():
    optim_methods = tool('optim_methods_experiment')
    demo = Config.fromfile(osp.join(REPO, optim_methods.SCHEDULE)).to_dict()
    for method, changes in training_methods(4).items():
        cfg = optim_methods.method_config(method).to_dict()
        assert cfg['custom_hooks'] == [optim_methods.HOOK]
        assert cfg['optim_wrapper'] == dict(
            demo['optim_wrapper'], **changes['optim_wrapper'])
        model = dict(demo['model'])
        if 'loss_balancer' in changes:
            model['loss_balancer'] = changes['loss_balancer']
        assert cfg['model'] == model, method
        for key in ('train_dataloader', 'val_dataloader', 'val_evaluator',
                    'param_scheduler', 'train_cfg', 'randomness'):
            assert cfg[key] == demo[key], (method, key)


def test_stale_reference_file_is_refused(experiment, tmp_path, monkeypatch):
    path = str(tmp_path / 'references.json')
    fingerprints = {task: fingerprint(cfg)
                    for task, cfg in experiment.reference_configs().items()}
    with open(path, 'w') as f:
        json.dump(dict(metrics={}, fingerprints=fingerprints), f)
    assert experiment.load_single_task_references(path)['fingerprints'] \
        == fingerprints
    # The schedule changes (a longer run): the stored references are stale.
    longer = tmp_path / 'longer.py'
    longer.write_text(f"_base_ = ['{osp.join(REPO, experiment.SCHEDULE)}']\n"
                      'train_cfg = dict(max_epochs=9)\n')
    monkeypatch.setattr(experiment, 'SCHEDULE', str(longer))
    with pytest.raises(ValueError, match='stale.*--single-task'):
        experiment.load_single_task_references(path)
    with pytest.raises(FileNotFoundError, match='--single-task'):
        experiment.load_single_task_references(str(tmp_path / 'none.json'))


def test_stored_references_match_the_schedule(experiment):
    """A change of the schedule (or of what it inherits) makes the stored
    single-task references, and the report built on them, stale: it shows
    here, not at the next experiment."""
    references = experiment.load_single_task_references(
        osp.join(REPO, experiment.REFERENCES))
    assert set(references['metrics']) == {
        'semseg/mIoU', 'human_parts/mIoU', 'sal/mIoU', 'normals/mean'}


def log_scalars(work_dir: str, run: str, value: int) -> None:
    """What a training run in ``work_dir`` logs: one scalar record."""
    os.makedirs(osp.join(work_dir, run, 'vis_data'))
    with open(osp.join(work_dir, run, 'vis_data', 'scalars.json'), 'w') as f:
        f.write(json.dumps(dict(step=1, value=value)) + '\n')


def test_train_once_trains_a_config_once(tmp_path):
    calls = []

    def train(config_file, work_dir):
        calls.append(Config.fromfile(config_file).train_cfg.max_epochs)
        log_scalars(work_dir, f'run{len(calls)}', len(calls))

    cfg = Config(dict(train_cfg=dict(max_epochs=2)))
    work_dir = str(tmp_path / 'run')
    assert train_once(cfg, work_dir, train) == [dict(step=1, value=1)]
    assert train_once(cfg, work_dir, train) == [dict(step=1, value=1)]
    assert calls == [2]
    # Another config in the same place is trained, not taken from before.
    cfg.train_cfg.max_epochs = 3
    assert train_once(cfg, work_dir, train) == [dict(step=1, value=2)]
    assert calls == [2, 3]


def test_stored_summaries_outlive_the_work_dir(tmp_path):
    """A run's summary is stored beside the code: a fresh checkout (no
    work dir) takes it and does not train again; another config does."""
    calls = []

    def train(config_file, work_dir):
        calls.append(Config.fromfile(config_file).train_cfg.max_epochs)
        log_scalars(work_dir, 'run', 10 * len(calls))

    def summarise(records):
        return dict(value=records[-1]['value'], steps=(1, 2))

    cfg = Config(dict(train_cfg=dict(max_epochs=2)))
    work_dir, path = str(tmp_path / 'work'), str(tmp_path / 'runs' / 'a.json')
    summary = train_and_store(cfg, work_dir, path, summarise, train)
    assert calls == [2]
    assert summary == dict(value=10, steps=[1, 2], **run_record(work_dir))
    shutil.rmtree(work_dir)
    assert train_and_store(cfg, work_dir, path, summarise, train) == summary
    assert calls == [2]
    with open(path) as f:
        assert json.load(f)['fingerprint'] == fingerprint(cfg)
    cfg.train_cfg.max_epochs = 3
    assert train_and_store(cfg, work_dir, path, summarise,
                           train)['value'] == 20
    assert calls == [2, 3]


def test_runs_record_the_commit_and_machine_they_were_trained_at(
        tmp_path):
    """The cache reuses runs across code changes and machines: each keeps
    its commit and machine, and reports count the runs per commit."""
    head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO,
                          capture_output=True, text=True).stdout.strip()
    new, old = str(tmp_path / 'new'), str(tmp_path / 'old')
    train_once(Config(dict(a=1)), new,
               lambda config, work_dir: log_scalars(work_dir, 'run', 1))
    assert run_record(new)['commit'].rstrip('+') == head
    assert run_record(new)['machine'] == machine()
    assert machine().endswith(f', torch {torch.__version__}')
    os.makedirs(old)
    with open(osp.join(old, RUN_RECORD), 'w') as f:  # from before commits
        json.dump(dict(fingerprint='0', minutes=1.0), f)
    assert run_record(old)['commit'] == run_record(old)['machine'] \
        == 'unrecorded'
    commit = run_record(new)['commit']
    assert run_counts([run_record(w)['commit'] for w in (new, old, new)]) \
        == f'{commit} (2 runs), unrecorded (1 run)'


def test_runs_record_the_commit_of_the_checkout_that_trains(tmp_path):
    """A grid run from another checkout trains that checkout's code, and
    its records name that checkout's commit, not the installed one's;
    ``+`` marks changed code, not the reports the grid rewrites in docs/."""
    checkout = tmp_path / 'checkout'
    (checkout / 'docs').mkdir(parents=True)
    for name in ('docs/report.md', 'model.py'):
        (checkout / name).write_text('committed\n')
    for args in (['init', '-q'], ['add', '.'], ['commit', '-q', '-m', 'x']):
        subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t',
                        *args], cwd=checkout, check=True)
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                            cwd=checkout, capture_output=True,
                            text=True).stdout.strip()

    def commit_of_a_run(name: str) -> str:
        work_dir = str(tmp_path / name)
        train_once(Config(dict(a=1)), work_dir,
                   lambda config, run_dir: log_scalars(run_dir, 'run', 1),
                   code_root=str(checkout))
        return run_record(work_dir)['commit']

    (checkout / 'docs' / 'report.md').write_text('rewritten\n')
    assert commit_of_a_run('docs_changed') == commit
    (checkout / 'model.py').write_text('changed\n')
    assert commit_of_a_run('code_changed') == commit + '+'


def test_grid_trains_with_its_own_checkouts_mmsquad(experiment, tmp_path,
                                                     monkeypatch):
    """``train`` starts ``tools/train.py`` with this checkout's mmsquad
    first on the path, ahead of any other on ``PYTHONPATH``."""
    other = tmp_path / 'other'
    (other / 'mmsquad').mkdir(parents=True)
    (other / 'mmsquad' / '__init__.py').write_text('')
    monkeypatch.setenv('PYTHONPATH', str(other))
    started = []
    monkeypatch.setattr(experiment, 'run_echoing_stderr',
                        lambda args, **kwargs: started.append(kwargs))
    experiment.train('config.py', 'work_dir')
    imported = subprocess.run(
        [sys.executable, '-c', 'import mmsquad; print(mmsquad.__file__)'],
        cwd=str(tmp_path), env=started[0].get('env'), capture_output=True,
        text=True, check=True).stdout
    assert imported.strip() == osp.join(REPO, 'mmsquad', '__init__.py')


def log_run(work_dir: str, metrics: dict) -> None:
    """What a finished training run of a grid logs: an epoch of training
    records with conflict measurements, and a validation at epochs 2 and
    8."""
    conflict = {f'grad_conflict/shared/{stat}': 0.25
                for stat in ('cos_mean', 'conflict_rate')}
    records = [dict(step=10 * i, loss=1.0, time=0.5, **conflict)
               for i in range(1, 9)]
    records += [dict(step=2, **{k: v / 2 for k, v in metrics.items()}),
                dict(step=8, **metrics)]
    os.makedirs(osp.join(work_dir, 'run', 'vis_data'))
    with open(osp.join(work_dir, 'run', 'vis_data', 'scalars.json'),
              'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in records)


def leave_unusable_runs(killed: str, other_config: str) -> None:
    """A run killed before it finished (logs, no record) in ``killed``,
    and a finished run of another config in ``other_config``."""
    os.makedirs(killed)
    log_run(killed, {})
    train_once(Config(dict(other_schedule=1)), other_config,
               lambda config, run_dir: log_run(run_dir, {}))


def test_report_covers_every_finished_grid_run(experiment, tmp_path):
    """The grid runs in parts, in several commands: the report takes every
    finished run of the grid from the work dir, and only those, and
    stores them, so that a fresh checkout reports them too."""
    metrics = {key: 40.0 for key in experiment.METRICS}
    parts = [('MTAN', 'plain', 0), ('SquadNet-small', 'PCGrad', 2)]
    for model, method, seed in parts:
        train_once(experiment.run_config(model, method, seed),
                   experiment.run_dir(str(tmp_path), model, method, seed),
                   lambda config, run_dir: log_run(run_dir, metrics))
    leave_unusable_runs(
        experiment.run_dir(str(tmp_path), 'Cross-Stitch', 'GradVac', 1),
        experiment.run_dir(str(tmp_path), 'MTAN', 'PCGrad', 0))
    references = dict(metrics={'semseg/mIoU': 50.0, 'normals/mean': 32.0},
                      lower_is_better=['normals/mean'])
    runs = str(tmp_path / 'stored')
    results = experiment.finished_results(str(tmp_path), runs, references)
    assert sorted(results) == sorted(parts)
    for model, method, seed in parts:
        shutil.rmtree(experiment.run_dir(str(tmp_path), model, method, seed))
    assert experiment.finished_results(str(tmp_path), runs,
                                       references) == results
    # A stored summary of another config (the schedule changed) is not.
    stored = experiment.run_summary_path(runs, *parts[1])
    with open(stored) as f:
        summary = json.load(f)
    with open(stored, 'w') as f:
        json.dump(dict(summary, fingerprint='0'), f)
    assert sorted(experiment.finished_results(str(tmp_path), runs,
                                              references)) == [parts[0]]
    run = results[('MTAN', 'plain', 0)]
    assert [v['step'] for v in run['by_epoch']] == [2, 8]
    assert run['by_epoch'][0]['semseg/mIoU'] == 20.0
    assert run['delta_m'] == pytest.approx((-20 - 25) / 2)
    missing = experiment.missing_runs(results, {})
    assert len(missing) == len(experiment.MODELS) * len(experiment.METHODS)
    assert 'MTAN / plain / seeds 1, 2' in missing
    assert 'Cross-Stitch / GradVac / seeds 0, 1, 2' in missing
    # A failed run is not missing: the report lists it apart.
    assert 'MTAN / plain / seed 2' in experiment.missing_runs(
        results, {('MTAN', 'plain', 1): 'diverged'})


def test_method_report_covers_every_finished_run(tmp_path):
    methods = tool('optim_methods_experiment')
    metrics = {key: 40.0 for key in methods.METRICS}
    for method in ('plain', 'PCGrad'):
        train_once(methods.method_config(method),
                   osp.join(str(tmp_path), method.lower()),
                   lambda config, run_dir: log_run(run_dir, metrics))
    leave_unusable_runs(str(tmp_path / 'gradvac'), str(tmp_path / 'cagrad'))
    results = methods.finished_results(
        str(tmp_path), str(tmp_path / 'stored'),
        ['plain', 'PCGrad', 'GradVac', 'CAGrad'])
    assert sorted(results) == ['PCGrad', 'plain']
    assert results['plain']['conflict']['conflict_rate'] == 0.25
    out = str(tmp_path / 'report.md')
    methods.write_report(results, {'CAGrad': 'FloatingPointError: nan'},
                         ['plain', 'PCGrad', 'GradVac', 'CAGrad'], out,
                         'elsewhere/runs')
    with open(out) as f:
        report = f.read()
    assert '1 of 4 methods not in yet** (GradVac)' in report
    assert ('| CAGrad | failed: FloatingPointError: nan |' + ' |' * 8 + '\n'
            in report)
    # A grid with a failed run and no missing one is not "every method".
    covered = str(tmp_path / 'covered.md')
    methods.write_report(results, {'CAGrad': 'nan'},
                         ['plain', 'PCGrad', 'CAGrad'], covered)
    with open(covered) as f:
        covered_report = f.read()
    assert 'Every method is in' not in covered_report
    assert 'The runs of CAGrad failed' in covered_report
    assert 'their summaries\nare in `elsewhere/runs/`' in report


def test_curve_window_is_the_grids_one_epoch(experiment):
    assert experiment.curve_window({}) == 1
    runs = {('MTAN', 'plain', 0): dict(window=8),
            ('MTAN', 'plain', 1): dict(window=8)}
    assert experiment.curve_window(runs) == 8
    runs[('MTAN', 'plain', 2)] = dict(window=4)
    with pytest.raises(ValueError, match=r'gradients per epoch: \[4, 8\]'):
        experiment.curve_window(runs)


def test_paired_comparison_against_hand_computed_t():
    first, second = [0.10, 0.12, 0.20], [0.15, 0.14, 0.26]
    test = paired_comparison(first, second)
    d = np.array(first) - np.array(second)  # -0.05, -0.02, -0.06
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    assert test['t'] == pytest.approx(t)
    assert test['mean'] == pytest.approx(-13 / 300)
    assert test['negative'] == 3 and test['n'] == 3
    # Two-sided p of Student's t with 2 degrees of freedom, closed form.
    assert test['p'] == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t))
    single = paired_comparison([1.0], [2.0])
    assert math.isnan(single['p']) and single['negative'] == 1
    with pytest.raises(ValueError, match='equal lengths'):
        paired_comparison([1.0], [1.0, 2.0])


def test_mean_conflict_averages_ratios_geometrically():
    records = [{'grad_conflict/shared/cos_mean': 0.1,
                'grad_conflict/shared/magnitude_ratio': 10.0, 'step': 10},
               dict(loss=1.0, step=15),
               {'grad_conflict/shared/cos_mean': 0.4,
                'grad_conflict/shared/magnitude_ratio': 1e5, 'step': 20}]
    means = mean_conflict(records)['shared']
    assert means['cos_mean'] == pytest.approx(0.25)
    assert means['magnitude_ratio'] == pytest.approx(1e3)
    with pytest.raises(KeyError, match='GradConflictHook'):
        mean_conflict([dict(loss=1.0, step=1)])


def test_verdict_needs_significance_and_one_sign(experiment):
    lower = dict(p=0.01, negative=3, n=3)
    assert experiment.verdict(lower, 'less') == 'holds'
    assert experiment.verdict(lower, 'more') == 'the opposite holds'
    assert experiment.verdict(dict(p=0.2, negative=3, n=3),
                              'less') == 'undecided'
    assert experiment.verdict(dict(p=0.01, negative=2, n=3),
                              'less') == 'undecided'
    assert experiment.verdict(dict(p=float('nan'), negative=1, n=1),
                              'less') == 'undecided'


def test_runtime_table_ranges_stored_minutes_by_machine(experiment):
    """Each (model, method, machine) row counts its runs and gives the
    range of their stored minutes, in the grid's order of models and
    methods."""
    intel, amd = 'Intel Xeon, torch 2', 'AMD EPYC, torch 2'
    results = {('shared encoder', 'PCGrad', 0): dict(minutes=87.3,
                                                     machine=intel),
               ('shared encoder', 'PCGrad', 1): dict(minutes=157.6,
                                                     machine=amd),
               ('shared encoder', 'PCGrad', 2): dict(minutes=101.7,
                                                     machine=amd),
               ('MTAN', 'plain', 0): dict(minutes=13.5, machine=amd),
               ('SquadNet-small', 'GradVac', 1): dict(minutes=60.2,
                                                      machine=intel),
               ('SquadNet-small', 'plain', 2): dict(minutes=26.8,
                                                    machine=amd)}
    assert experiment.runtime_rows(results)[2:] == [
        f'| SquadNet-small | plain | {amd} | 1 | 27 |',
        f'| SquadNet-small | GradVac | {intel} | 1 | 60 |',
        f'| shared encoder | PCGrad | {amd} | 2 | 102 to 158 |',
        f'| shared encoder | PCGrad | {intel} | 1 | 87 |',
        f'| MTAN | plain | {amd} | 1 | 14 |']


def test_conflict_curves_of_seeds_plot_as_bands(tmp_path):
    def curves(offset):
        return dict(cos_mean=([10, 20, 30], [0.1 + offset, 0.2, 0.3]),
                    conflict_rate=([10, 20], [0.5, 0.25 + offset]))
    out = str(tmp_path / 'curves.png')
    plot_conflict_curves({'a': [curves(0.0), curves(0.1)],
                          'b': [curves(0.0)]}, out, 'shared')
    from PIL import Image
    assert Image.open(out).size[0] > 0


def test_conflict_curves_are_trailing_moving_averages():
    rng = np.random.default_rng(0)
    values = rng.uniform(-1, 1, size=(2, 7))
    # Out of order, with a training record between, as logs may hold.
    records = [dict(step=10 * (i + 1), loss=1.0, **{
        f'grad_conflict/shared/{stat}': values[k, i]
        for k, stat in enumerate(('cos_mean', 'conflict_rate'))})
        for i in (3, 0, 6, 1, 5, 2, 4)]
    for window in (1, 3, 7):
        curves = conflict_curves(records, 'shared', window)
        for k, stat in enumerate(('cos_mean', 'conflict_rate')):
            steps, smoothed = curves[stat]
            assert steps == [10 * (i + 1) for i in range(window - 1, 7)]
            expected = [sum(values[k, i - window + 1:i + 1]) / window
                        for i in range(window - 1, 7)]
            np.testing.assert_allclose(smoothed, expected, rtol=1e-12)
    for window in (0, 8):
        with pytest.raises(ValueError, match='window must be 1 to 7'):
            conflict_curves(records, 'shared', window)


def test_report_regenerates_from_stored_runs_alone(experiment, tmp_path,
                                                   monkeypatch):
    """``--report-only`` in a checkout without the work dirs trains
    nothing and reports the stored runs; relative paths are the caller's."""
    metrics = {key: 40.0 for key in experiment.METRICS}
    work_dir, runs = str(tmp_path / 'work'), str(tmp_path / 'runs')
    for seed in (0, 1):
        train_once(experiment.run_config('MTAN', 'plain', seed),
                   experiment.run_dir(work_dir, 'MTAN', 'plain', seed),
                   lambda config, run_dir: log_run(run_dir, metrics))
    experiment.finished_results(work_dir, runs, dict(
        metrics={'semseg/mIoU': 50.0}, lower_is_better=[]))
    store_failure(experiment.run_config('MTAN', 'plain', 2),
                  experiment.run_summary_path(runs, 'MTAN', 'plain', 2),
                  'FloatingPointError: nan')
    shutil.rmtree(work_dir)

    def train(*args):
        raise AssertionError('a stored run was trained again')

    monkeypatch.chdir(tmp_path)  # main() moves to the repository
    monkeypatch.setattr(experiment, 'train', train)
    monkeypatch.setattr(experiment, 'ensure_demo_data', lambda: None)
    monkeypatch.setattr(experiment, 'constant_baseline',
                        lambda cfg: {key: 1.0 for key in metrics})
    out = str(tmp_path / 'report.md')
    experiment.main(['--report-only', '--work-dir', 'work', '--runs',
                     'runs', '--out', 'report.md'])
    with open(out) as f:
        report = f.read()
    assert "2 of the grid's 54 runs are in" in report
    assert '| MTAN | plain | 2 | 40.00 ± 0.00 |' in report
    assert '- MTAN / plain / seed 2: FloatingPointError: nan' in report
    assert '- MTAN / plain /' not in report.split('Failed, and left out')[0]
    assert f'their summaries are in `{runs}/`' in report
    assert f'| MTAN | plain | {machine()} | 2 |' in report
    assert osp.isfile(str(tmp_path / 'report_plain.png'))


def test_a_failed_run_does_not_stop_the_grid(tmp_path, monkeypatch, capsys):
    """A run whose training fails (a diverged loss) is named and stored as
    failed, with why; the runs after it train, the report covers them and
    the failure, and the command exits with an error. The next command
    does not train the failed run again."""
    methods = tool('optim_methods_experiment')
    metrics = {key: 40.0 for key in methods.METRICS}
    why = ('FloatingPointError: training diverged at iteration 234 (epoch '
           '3): non-finite loss=nan')

    def train(config_file, work_dir):
        if osp.basename(work_dir) == 'nashmtl':
            raise subprocess.CalledProcessError(
                1, ['tools/train.py'], stderr=f'Traceback\n  ...\n{why}\n')
        log_run(work_dir, metrics)

    monkeypatch.chdir(tmp_path)  # main() moves to the repository
    monkeypatch.setattr(methods, 'train', train)
    monkeypatch.setattr(methods, 'ensure_demo_data', lambda: None)
    work_dir = str(tmp_path / 'work')
    command = ['--methods', 'plain', 'NashMTL', 'PCGrad', '--work-dir',
               work_dir, '--runs', 'runs', '--out', 'report.md']
    with pytest.raises(SystemExit) as exited:
        methods.main(command)
    assert osp.join(work_dir, 'nashmtl') in str(exited.value)
    assert f'nashmtl failed ({why})' in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / 'runs')) == [
        'nashmtl.json', 'pcgrad.json', 'plain.json']
    with open(tmp_path / 'runs' / 'nashmtl.json') as f:
        assert json.load(f)['failed'] == why
    with open(tmp_path / 'report.md') as f:
        report = f.read()
    assert '| PCGrad | 40.00 |' in report
    assert f'| NashMTL | failed: {why} |' in report

    def train_again(config_file, work_dir):
        raise AssertionError(f'{work_dir} was trained again')

    monkeypatch.setattr(methods, 'train', train_again)
    monkeypatch.chdir(tmp_path)
    methods.main(command)
    assert 'skipped' in capsys.readouterr().err


def test_a_failed_process_passes_its_stderr_on_and_keeps_its_tail(capfd):
    """The training process's stderr reaches the user as it comes, and its
    last line is why the run failed."""
    script = ('import sys; print("progress", file=sys.stderr, flush=True); '
              'raise FloatingPointError("diverged at iteration 7")')
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_echoing_stderr([sys.executable, '-c', script])
    assert failure_reason(failed.value) == \
        'FloatingPointError: diverged at iteration 7'
    assert 'progress' in capfd.readouterr().err
    run_echoing_stderr([sys.executable, '-c', 'pass'])


def test_report_only_refuses_to_train_references(experiment, capsys):
    """``--single-task`` trains; with ``--report-only`` it is refused
    before anything runs."""
    with pytest.raises(SystemExit):
        experiment.main(['--report-only', '--single-task'])
    assert 'not allowed with argument' in capsys.readouterr().err


def test_report_names_runs_inside_the_repository_relatively(tmp_path):
    assert shown_path(str(tmp_path / 'docs' / 'runs'),
                      str(tmp_path)) == osp.join('docs', 'runs')
    assert shown_path(str(tmp_path / 'runs'), str(tmp_path / 'docs')) == \
        str(tmp_path / 'runs')
