"""Grids of training runs for experiments that compare models and training
methods: their configs derived from one schedule, each run trained once
and its summary stored in the repository, and the statistics over seeds
that compare the runs.

The machinery of ``tools/misc/grad_conflict_experiment.py`` and
``tools/misc/optim_methods_experiment.py``.
"""
import collections
import copy
import hashlib
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple)

import numpy as np
import torch
from mmengine.config import Config, ConfigDict

from .run_logs import read_scalars

#: The optim wrapper keys only mixed precision takes.
AMP_ONLY_KEYS = ('loss_scale', 'dtype')
#: What :func:`train_once` writes beside a finished run.
RUN_RECORD = 'experiment_run.json'
#: The key of a stored summary that records a failed run: why it failed.
FAILED = 'failed'
#: The checkout these tools are in (whose mmsquad their runs train).
PACKAGE_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def derive_run_config(schedule: Config, model: ConfigDict, method: dict,
                      seed: int) -> Config:
    """``schedule`` (data, optimizer, schedule, hooks, evaluator) with
    another ``model``, training ``method`` and ``seed``: everything else is
    the schedule's, for every run of a grid.

    Args:
        schedule: The config every run shares (left unchanged).
        model: The ``model`` config of the run.
        method: ``{'optim_wrapper': {...}, 'loss_balancer': {...}}`` as
            :func:`~mmsquad.engine.training_methods` gives: the optim
            wrapper keys replace the schedule's (its optimizer stays), and
            the balancer, when given, becomes the model's.
        seed: ``randomness.seed``.
    """
    cfg = Config(copy.deepcopy(schedule.to_dict()),
                 filename=schedule.filename)
    cfg.model = copy.deepcopy(model)
    wrapper = dict(cfg.optim_wrapper, **method['optim_wrapper'])
    if 'Amp' not in wrapper['type']:
        for key in AMP_ONLY_KEYS:
            wrapper.pop(key, None)
    cfg.optim_wrapper = wrapper
    if 'loss_balancer' in method:
        cfg.model.loss_balancer = copy.deepcopy(method['loss_balancer'])
    cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
    return cfg


#: Config keys that do not decide a run's result: where it is written,
#: and the test-time views only ``tools/test.py --tta`` reads.
OUTSIDE_THE_RUN = ('work_dir', 'tta_model', 'tta_pipeline')


def fingerprint(cfg: Config) -> str:
    """A digest of everything in ``cfg`` that decides a run's result (all
    but :data:`OUTSIDE_THE_RUN`): equal fingerprints, equal runs."""
    content = {k: v for k, v in cfg.to_dict().items()
               if k not in OUTSIDE_THE_RUN}
    text = json.dumps(content, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_commit(root: str = PACKAGE_ROOT) -> str:
    """The commit checked out in ``root`` (short hash, with ``+`` when
    tracked files outside ``docs/`` differ from it), or ``'unknown'``
    outside a git checkout. ``docs/`` is left out: the experiments rewrite
    their reports there while their grids train."""
    def git(*args: str) -> str:
        return subprocess.run(['git', *args], cwd=root, capture_output=True,
                              text=True).stdout.strip()

    head = git('rev-parse', '--short', 'HEAD')
    if not head:
        return 'unknown'
    changed = git('status', '--porcelain', '--untracked-files=no', '--',
                  '.', ':(exclude)docs')
    return head + ('+' if changed else '')


def machine() -> str:
    """The processor (and GPU, where there is one) and torch version runs
    train on here: the same config and seed give other floats on another
    machine."""
    processor = platform.processor() or platform.machine()
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            names = re.findall(r'^model name\s*:\s*(.+)$', f.read(), re.M)
        processor = names[0].strip() if names else processor
    if torch.cuda.is_available():
        processor += f', {torch.cuda.get_device_name(0)}'
    return f'{processor}, torch {torch.__version__}'


def train_once(cfg: Config, work_dir: str, train: Callable[[str, str], None],
               code_root: str = PACKAGE_ROOT) -> List[dict]:
    """The logged scalar records of ``cfg`` trained in ``work_dir``;
    trains it (``train(config_file, work_dir)``) only when ``work_dir`` has
    no finished run of the same config, so an interrupted grid resumes
    where it stopped.

    The cache knows configs, not code: a finished run is reused after the
    code changes. Its record keeps the commit it was trained at
    (:func:`run_record`), for the reports to show: the commit checked out
    in ``code_root``, the checkout whose mmsquad ``train`` runs; and the
    :func:`machine`.
    """
    records = finished_run(cfg, work_dir)
    if records is not None:
        return records
    os.makedirs(work_dir, exist_ok=True)
    config_file = osp.join(work_dir, 'experiment_config.py')
    cfg.dump(config_file)
    start = time.perf_counter()
    commit = code_commit(code_root)
    train(config_file, work_dir)
    with open(osp.join(work_dir, RUN_RECORD), 'w') as f:
        json.dump(dict(fingerprint=fingerprint(cfg), commit=commit,
                       machine=machine(),
                       minutes=(time.perf_counter() - start) / 60), f)
    return read_scalars(work_dir)


def finished_run(cfg: Config, work_dir: str) -> Optional[List[dict]]:
    """The logged scalar records of the run of ``cfg`` that
    :func:`train_once` finished in ``work_dir``; ``None`` when it holds no
    finished run, or a run of another config."""
    record = osp.join(work_dir, RUN_RECORD)
    if not osp.isfile(record):
        return None
    with open(record) as f:
        if json.load(f).get('fingerprint') != fingerprint(cfg):
            return None
    return read_scalars(work_dir)


def run_record(work_dir: str) -> dict:
    """What :func:`train_once` recorded of the run in ``work_dir``: its
    config's ``fingerprint``, ``minutes`` of training, the ``commit`` it
    was trained at and the ``machine`` it was trained on (``'unrecorded'``
    for runs from before these were kept)."""
    with open(osp.join(work_dir, RUN_RECORD)) as f:
        return dict(dict(commit='unrecorded', machine='unrecorded'),
                    **json.load(f))


def stored_summary(path: str, cfg: Config) -> Optional[dict]:
    """The summary :func:`run_summary` stored at ``path`` of the run of
    ``cfg``; ``None`` when none is stored (or the run's failure), or one
    of another config."""
    summary = stored_record(path, cfg)
    return None if summary is None or FAILED in summary else summary


def stored_failure(path: str, cfg: Config) -> Optional[str]:
    """Why the run of ``cfg`` failed, as :func:`train_grid` stored it at
    ``path``; ``None`` when no failure of that config is stored."""
    record = stored_record(path, cfg)
    return None if record is None else record.get(FAILED)


def stored_record(path: str, cfg: Config) -> Optional[dict]:
    """What is stored at ``path`` of the run of ``cfg`` (its summary, or
    the record of its failure); ``None`` when nothing is stored, or a
    record of another config (a run of a changed schedule is not taken
    from before)."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        record = json.load(f)
    return record if record.get('fingerprint') == fingerprint(cfg) else None


def run_summary(cfg: Config, work_dir: str, path: str,
                summarise: Callable[[List[dict]], dict]) -> Optional[dict]:
    """The summary of the run of ``cfg``: the one stored at ``path``, else
    ``summarise(records)`` of the run :func:`train_once` finished in
    ``work_dir``, stored at ``path`` with the run's record (fingerprint,
    commit, minutes); ``None`` when neither holds the run.

    Work dirs hold gigabytes and stay out of git; the summaries are small
    and committed, so a report can be regenerated, and a grid resumed,
    in a fresh checkout.
    """
    summary = stored_summary(path, cfg)
    if summary is not None:
        return summary
    records = finished_run(cfg, work_dir)
    if records is None:
        return None
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(summarise(records), **run_record(work_dir)), f,
                  indent=1)
        f.write('\n')
    return stored_summary(path, cfg)


def train_and_store(cfg: Config, work_dir: str, path: str,
                    summarise: Callable[[List[dict]], dict],
                    train: Callable[[str, str], None],
                    code_root: str = PACKAGE_ROOT) -> dict:
    """:func:`run_summary` of ``cfg``, training it first (:func:`train_once`)
    when neither ``path`` nor ``work_dir`` holds it."""
    summary = run_summary(cfg, work_dir, path, summarise)
    if summary is None:
        train_once(cfg, work_dir, train, code_root)
        summary = run_summary(cfg, work_dir, path, summarise)
    return summary


def train_grid(runs: Iterable[Tuple[Config, str, str]],
               summarise: Callable[[List[dict]], dict],
               train: Callable[[str, str], None],
               code_root: str = PACKAGE_ROOT) -> List[str]:
    """:func:`train_and_store` every ``(cfg, work_dir, path)`` of a grid.

    A run whose training process fails (``train`` raises
    ``subprocess.CalledProcessError``: a diverged loss, say) is reported,
    its failure is stored at ``path`` (:func:`store_failure`), and the
    grid goes on with the next run, so one failing method does not stop a
    night's runs. A run whose failure is stored is not trained again
    (the same config fails the same way) until its record is deleted.
    Returns the work dirs, each holding its log, of the runs that failed
    in this call.
    """
    failed = []
    for cfg, work_dir, path in runs:
        reason = stored_failure(path, cfg)
        if reason is not None:
            print(f'!! skipped {work_dir}: it failed before ({reason}); '
                  f'delete {path} to train it again.', file=sys.stderr,
                  flush=True)
            continue
        try:
            train_and_store(cfg, work_dir, path, summarise, train, code_root)
        except subprocess.CalledProcessError as error:
            reason = failure_reason(error)
            store_failure(cfg, path, reason, code_root)
            print(f'!! the run in {work_dir} failed ({reason}); its log is '
                  'there. The grid goes on.', file=sys.stderr, flush=True)
            failed.append(work_dir)
    return failed


def failure_reason(error: subprocess.CalledProcessError) -> str:
    """The last line the failed process wrote to stderr (where Python
    prints the exception that ended it), else the error itself."""
    lines = [line.strip() for line in (error.stderr or '').splitlines()
             if line.strip()]
    return lines[-1] if lines else str(error)


def store_failure(cfg: Config, path: str, reason: str,
                  code_root: str = PACKAGE_ROOT) -> None:
    """Store at ``path`` that the run of ``cfg`` failed, why, and at which
    commit (of ``code_root``) and on which machine, for the reports to
    show and :func:`train_grid` not to train it again."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as f:
        json.dump({FAILED: reason, 'fingerprint': fingerprint(cfg),
                   'commit': code_commit(code_root), 'machine': machine()},
                  f, indent=1)
        f.write('\n')


def run_echoing_stderr(command: Sequence[str], **kwargs) -> None:
    """``subprocess.run(command, check=True, **kwargs)``, its stderr passed
    on to this process's as it comes and, on failure, kept (its last 50
    lines) in the ``CalledProcessError`` for :func:`failure_reason`."""
    tail: collections.deque = collections.deque(maxlen=50)
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                          errors='replace', **kwargs) as process:
        for line in process.stderr:
            sys.stderr.write(line)
            tail.append(line)
    sys.stderr.flush()
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command,
                                            stderr=''.join(tail))


def shown_path(path: str, root: str) -> str:
    """``path`` as a report names it: relative to the repository ``root``
    when inside it, else absolute."""
    path, root = osp.abspath(path), osp.abspath(root)
    inside = osp.commonpath([path, root]) == root
    return osp.relpath(path, root) if inside else path


def run_counts(values: Sequence[str]) -> str:
    """What runs were trained at or on (commits, machines), with the
    number of runs of each, most first:
    ``'4daaefb (5 runs), 9379507 (1 run)'``."""
    counts: Dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return ', '.join(f'{commit} ({n} run{"s" * (n > 1)})' for commit, n in
                     sorted(counts.items(), key=lambda item: -item[1]))


def validations(records: Sequence[dict],
                keys: Sequence[str]) -> List[Dict[str, float]]:
    """Every validation in a run's scalar records that logged all
    ``keys``, in order: ``keys`` and its ``step`` (the epoch, in
    epoch-based runs)."""
    return [dict(step=r.get('step'), **{key: r[key] for key in keys})
            for r in records if all(key in r for key in keys)]


def last_validation(records: Sequence[dict],
                    keys: Sequence[str]) -> Dict[str, float]:
    """``keys`` from the last validation in a run's scalar records.

    Raises:
        KeyError: When no record has all ``keys``.
    """
    evaluated = validations(records, keys)
    if not evaluated:
        raise KeyError(f'the run logged no validation with {sorted(keys)}')
    return {key: evaluated[-1][key] for key in keys}


def mean_conflict(records: Sequence[dict]) -> Dict[str, Dict[str, float]]:
    """``{group: {statistic: mean over the run}}`` of the
    ``grad_conflict/<group>/<statistic>`` scalars
    :class:`~mmsquad.engine.hooks.GradConflictHook` logged; the geometric
    mean for ``magnitude_ratio``, a ratio of norms that spans orders of
    magnitude (an arithmetic mean is one outlier's).

    Raises:
        KeyError: When the run logged none.
    """
    values: Dict[Tuple[str, str], List[float]] = {}
    for record in records:
        for key, value in record.items():
            if key.startswith('grad_conflict/'):
                _, group, stat = key.split('/')
                values.setdefault((group, stat), []).append(value)
    if not values:
        raise KeyError('the run logged no grad_conflict/... scalars: was '
                       'GradConflictHook on?')
    means: Dict[str, Dict[str, float]] = {}
    for (group, stat), logged in values.items():
        means.setdefault(group, {})[stat] = float(
            np.exp(np.mean(np.log(logged))) if stat == 'magnitude_ratio'
            else np.mean(logged))
    return means


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (``nan`` for one value)."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else float('nan')
    return float(values.mean()), std


def paired_comparison(first: Sequence[float],
                      second: Sequence[float]) -> dict:
    """``first - second`` paired by position (by seed): the differences,
    their mean and sample std, how many are negative, and the two-sided
    paired t-test's ``t`` and ``p`` (``nan`` with fewer than two pairs or
    no spread)."""
    from scipy.stats import ttest_rel
    if len(first) != len(second):
        raise ValueError(f'paired values need equal lengths, got '
                         f'{len(first)} and {len(second)}')
    differences = np.asarray(first, float) - np.asarray(second, float)
    mean, std = mean_std(differences)
    t, p = (float('nan'), float('nan'))
    if len(differences) > 1 and np.ptp(differences) > 0:
        result = ttest_rel(first, second)
        t, p = float(result.statistic), float(result.pvalue)
    return dict(differences=differences.tolist(), mean=mean, std=std,
                negative=int((differences < 0).sum()), n=len(differences),
                t=t, p=p)
