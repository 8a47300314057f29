"""Reading what mmengine logged about a run."""
import fnmatch
import glob
import json
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np


def scalars_file(path: str) -> str:
    """The ``scalars.json`` a run argument names: the file itself, a
    run's ``<timestamp>`` directory, or a work dir (its latest run that
    logged training iterations, else its latest run).

    Raises:
        FileNotFoundError: When ``path`` names none, saying what was
            looked for.
    """
    if osp.isfile(path):
        return path
    own = osp.join(path, 'vis_data', 'scalars.json')
    if osp.isfile(own):
        return own
    runs = sorted(glob.glob(osp.join(path, '*', 'vis_data',
                                     'scalars.json')))
    for candidate in runs[::-1]:
        with open(candidate) as f:
            if any('"iter"' in line for line in f):
                return candidate
    if runs:
        return runs[-1]
    raise FileNotFoundError(
        f'{path}: neither a scalars.json nor a run directory holding '
        'vis_data/scalars.json, nor a work dir holding runs')


def read_scalars(path: str) -> List[dict]:
    """The logged scalar records of the run ``path`` names (see
    :func:`scalars_file`), one JSON object per line of its file."""
    with open(scalars_file(path)) as f:
        return [json.loads(line) for line in f if line.strip()]


def curves(records: List[dict], patterns: Sequence[str]
           ) -> Dict[str, Tuple[str, List[float], List[float]]]:
    """``{key: (x label, xs, ys)}`` of every logged key matching one of
    the shell ``patterns``: training records (those with ``iter``)
    against the iteration, validation records against their ``step``
    (mmengine's: the epoch of epoch-based runs, whose training records
    carry ``epoch``, else the iteration)."""
    epoch_based = any('iter' in r and 'epoch' in r for r in records)
    found: Dict[str, Tuple[str, List[float], List[float]]] = {}
    for record in records:
        training = 'iter' in record
        for key, value in record.items():
            if key in ('iter', 'step', 'epoch') or not any(
                    fnmatch.fnmatchcase(key, p) for p in patterns):
                continue
            label = 'epoch' if epoch_based and not training \
                else 'iteration'
            _, xs, ys = found.setdefault(key, (label, [], []))
            xs.append(record['iter'] if training else record['step'])
            ys.append(value)
    return found


def train_time(records: List[dict]) -> Dict[int, Dict[str, float]]:
    """Per epoch, the ``mean``, ``slowest`` and ``fastest`` logged
    iteration ``time`` (seconds; mmengine logs its moving average over
    the logging interval) and the ``count`` of records."""
    per_epoch: Dict[int, List[float]] = {}
    for record in records:
        if 'iter' in record and 'time' in record:
            per_epoch.setdefault(record.get('epoch', 0), []).append(
                record['time'])
    return {epoch: dict(mean=float(np.mean(times)),
                        slowest=float(np.max(times)),
                        fastest=float(np.min(times)), count=len(times))
            for epoch, times in sorted(per_epoch.items())}
