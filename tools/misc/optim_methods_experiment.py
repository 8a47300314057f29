"""Every gradient-aggregation and loss-weighting method on the demo data:
SquadNet-small trained with each for the same schedule and seed.

Every run is ``configs/squad/demo.py`` (the embedded demo data at 96x96,
Adam 1.5e-3, batch 4, 4 epochs, seed 0) in float32 with
``GradConflictHook`` every 10 iterations, and one method of
:func:`mmsquad.engine.training_methods` put into it (the optim wrapper,
or a loss balancer). Writes ``docs/optim_methods.md``: each method's task
metrics, delta_m against the demo's stored single-task references
(``configs/squad/demo_single_task_references.json``, as ``make demo``
reports it), the mean pairwise gradient cosine and conflict rate on the
shared parameters, and the time per training iteration as logged, as a
ratio to plain training.

All 28 methods take about 7 hours in two one-thread processes on 2 CPU
cores (measured that way: a plain or loss-weighting run takes 11 to 16
minutes, a run with per-task gradients, surgery or aggregation, about
31). Each finished run's summary is stored in
``docs/optim_methods_runs/`` and committed, and the run is not trained
again, in this checkout or a fresh one; ``--methods`` trains a
part, and the report covers every stored run and names the missing ones.
A run that fails (a diverged loss) is stored as failed, with why, listed
as such, and not trained again until its summary is deleted.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from grad_conflict_experiment import exit_if_failed, load_config, slug, train
from run_demo import ROOT, ensure_demo_data

from mmsquad.utils import register_all_modules

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.method_catalogue import training_methods  # noqa: E402
from toolkit.experiment import (derive_run_config, last_validation,
                                      mean_conflict, run_counts,
                                      run_summary, shown_path,
                                      stored_failure, train_grid)

SCHEDULE = 'configs/squad/demo.py'
SEED = 0
METRICS = {'semseg/mIoU': 'semseg mIoU', 'human_parts/mIoU': 'parts mIoU',
           'sal/mIoU': 'sal mIoU', 'normals/mean': 'normals mean (deg)',
           'multitask/delta_m': 'delta_m (%)'}
HOOK = dict(type='GradConflictHook', interval=10)
#: Where the runs' summaries are stored.
RUNS = 'docs/optim_methods_runs'


def method_config(method: str):
    """The config of ``method``'s run."""
    schedule = load_config(SCHEDULE)
    cfg = derive_run_config(schedule, schedule.model,
                            training_methods(num_tasks=4)[method], SEED)
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), HOOK]
    cfg.default_hooks.logger.interval = HOOK['interval']
    return cfg


def summarise(records: List[dict]) -> dict:
    """A run's last validation, conflict on the shared parameters and
    mean logged iteration time."""
    times = [r['time'] for r in records if 'time' in r and 'loss' in r]
    return dict(metrics=last_validation(records, METRICS),
                conflict=mean_conflict(records)['shared'],
                seconds=sum(times) / len(times))


def run_paths(work_dir: str, runs: str, method: str) -> Tuple[str, str]:
    """Where ``method``'s run trains, and where its summary is stored."""
    return (osp.join(work_dir, slug(method)),
            osp.join(runs, f'{slug(method)}.json'))


def finished_results(work_dir: str, runs: str,
                     methods: Sequence[str]) -> Dict[str, dict]:
    """``{method: summary}`` of every method's run stored in ``runs`` or
    finished in ``work_dir`` (and then stored), whichever command trained
    it: the report of a part covers the parts run before."""
    results = {}
    for method in methods:
        summary = run_summary(method_config(method),
                              *run_paths(work_dir, runs, method), summarise)
        if summary is not None:
            results[method] = summary
    return results


def failed_methods(runs: str, methods: Sequence[str]) -> Dict[str, str]:
    """``{method: why its run failed}`` of the methods whose run's failure
    is stored in ``runs``."""
    failures = {}
    for method in methods:
        reason = stored_failure(run_paths('', runs, method)[1],
                                method_config(method))
        if reason is not None:
            failures[method] = reason
    return failures


def write_report(results: Dict[str, dict], failures: Dict[str, str],
                 methods: Sequence[str], out_md: str,
                 runs_dir: str = RUNS) -> None:
    """``docs/optim_methods.md`` from the finished runs stored in
    ``runs_dir`` and the ``failures`` of others."""
    plain = results.get('plain')
    rows = ['| method | ' + ' | '.join(METRICS.values()) +
            ' | mean cosine | conflict rate | s/iter | time ratio |',
            '|' + '---|' * (5 + len(METRICS))]
    for method, result in results.items():
        values = ' | '.join(f'{result["metrics"][k]:.2f}' for k in METRICS)
        ratio = (f'{result["seconds"] / plain["seconds"]:.2f}' if plain
                 else '-')
        rows.append(f'| {method} | {values} | '
                    f'{result["conflict"]["cos_mean"]:.3f} | '
                    f'{result["conflict"]["conflict_rate"]:.3f} | '
                    f'{result["seconds"]:.2f} | {ratio} |')
    rows += [f'| {method} | failed: {reason} |' + ' |' * (3 + len(METRICS))
             for method, reason in failures.items()]
    missing = [m for m in methods if m not in results and m not in failures]
    coverage = ('Every method is in.' if not missing and not failures
                else '')
    if missing:
        coverage += (f'**Partial: {len(missing)} of {len(methods)} methods '
                     f'not in yet** ({", ".join(missing)}); `make '
                     'experiment` trains them and keeps the finished runs. ')
    if failures:
        coverage += (f'The runs of {", ".join(failures)} failed; '
                     '`make experiment` does not train them again until '
                     'their summaries are deleted.')
    minutes = sum(r['minutes'] for r in results.values())
    text = f"""# Gradient surgery and loss weighting on the demo data

Measured by `tools/misc/optim_methods_experiment.py`: SquadNet-small with
the schedule of `{SCHEDULE}` (the embedded demo data at 96x96, Adam 1.5e-3
with poly decay, batch 4, 4 epochs, seed {SEED}), float32, one method per
run: `plain` is equal weights without surgery; mmsquad's surgeries act on
the shared parameters; `torchjd.<name>` is torchjd's aggregator; all
through `GradSurgeryOptimWrapper`; `balancer.<name>` weights the losses. Metrics are
from the last validation; delta_m is against the demo's single-task
references (`configs/squad/demo_single_task_references.json`). Mean
cosine and conflict rate are `GradConflictHook`'s, on the shared
parameters every 10 iterations, averaged over the run. s/iter is the
logged time per training iteration (with the hook's measurement every
10th), and its ratio to plain training: the grid runs in parts, so these
compare only runs made on one machine under the same load; the step cost
measured in one run is in `docs/benchmarks.md` (`make bench`). The runs
took {minutes:.0f} minutes on 2 CPU cores, at commits
{run_counts([r['commit'] for r in results.values()])}, on
{run_counts([r['machine'] for r in results.values()])}; their summaries
are in `{runs_dir}/`. One seed each: differences of a point or two are
within what another seed gives (see `docs/grad_conflict.md` for the spread
over seeds).

{coverage}

{chr(10).join(rows)}
"""
    with open(out_md, 'w') as f:
        f.write(text)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    register_all_modules()
    names = list(training_methods(num_tasks=4))
    parser.add_argument('--methods', nargs='+', choices=names,
                        default=names)
    parser.add_argument('--work-dir', default='work_dirs/optim_methods')
    parser.add_argument('--runs', default=RUNS,
                        help='where the runs\' summaries are stored')
    parser.add_argument('--report-only', action='store_true',
                        help='write the report from the stored runs, '
                        'training none')
    parser.add_argument('--out', default='docs/optim_methods.md')
    args = parser.parse_args(argv)
    work_dir, runs, out = map(osp.abspath,
                              (args.work_dir, args.runs, args.out))
    os.chdir(ROOT)  # the configs' data roots are relative to it
    ensure_demo_data()
    methods = () if args.report_only else args.methods
    failed = train_grid(
        ((method_config(method), *run_paths(work_dir, runs, method))
         for method in methods),
        summarise, train, ROOT)
    write_report(finished_results(work_dir, runs, names),
                 failed_methods(runs, names), names, out,
                 shown_path(runs, ROOT))
    print(f'wrote {out}')
    exit_if_failed(failed)


if __name__ == '__main__':
    main()
