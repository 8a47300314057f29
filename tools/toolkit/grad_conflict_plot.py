"""The logged gradient-conflict curves of runs, and their plot."""
from typing import Dict, List, Sequence, Tuple

import numpy as np

Curve = Tuple[List[int], List[float]]
STATISTICS = ('cos_mean', 'conflict_rate')


def conflict_curves(records: Sequence[dict], group: str = 'backbone',
                    window: int = 1) -> Dict[str, Curve]:
    """``{statistic: (steps, values)}`` of ``grad_conflict/<group>/...``,
    as their :func:`moving_average` over ``window`` measurements
    (``window=1``: the measurements themselves).

    Raises:
        KeyError: When the records hold no measurement of ``group``.
        ValueError: When ``window`` is not in ``[1, measurements]``.
    """
    curves: Dict[str, Curve] = {}
    for stat in STATISTICS:
        key = f'grad_conflict/{group}/{stat}'
        by_step = {r['step']: r[key] for r in records if key in r}
        if not by_step:
            raise KeyError(f'no {key} in the logged scalars: was '
                           'GradConflictHook on, and is the group right?')
        steps = sorted(by_step)
        curves[stat] = (steps, [by_step[s] for s in steps])
    return moving_average(curves, window)


def moving_average(curves: Dict[str, Curve],
                   window: int) -> Dict[str, Curve]:
    """``curves`` as a trailing moving average: each value is the mean of
    the measurement at its step and the ``window - 1`` before it.

    Raises:
        ValueError: When ``window`` is not in ``[1, measurements]``.
    """
    smoothed: Dict[str, Curve] = {}
    for stat, (steps, values) in curves.items():
        if not 1 <= window <= len(values):
            raise ValueError(f'a moving average over {window} measurements '
                             f'of {stat}, which has {len(values)}: the '
                             f'window must be 1 to {len(values)}')
        smoothed[stat] = (list(steps[window - 1:]), [
            float(np.mean(values[end - window:end]))
            for end in range(window, len(values) + 1)])
    return smoothed


def iteration_label(window: int) -> str:
    """The x-axis label of curves smoothed over ``window`` measurements."""
    return 'iteration' + (f' (moving average of {window} measurements)'
                          if window > 1 else '')


def plot_conflict_curves(runs: Dict[str, Sequence[Dict[str, Curve]]],
                         out_file: str, group: str = 'backbone',
                         xlabel: str = 'iteration') -> None:
    """One PNG: mean cosine and conflict rate over iterations, one line per
    run label; a label with several repetitions (seeds) is drawn as their
    mean over the steps all of them measured, in a band from their minimum
    to their maximum. ``xlabel`` says what the steps are (and how the
    curves were smoothed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    titles = dict(cos_mean='mean pairwise cosine',
                  conflict_rate='conflict rate (pairs with cosine < 0)')
    fig, axes = plt.subplots(1, len(STATISTICS), figsize=(11, 4))
    for ax, stat in zip(axes, STATISTICS):
        for label, repetitions in runs.items():
            steps = sorted(set.intersection(
                *(set(curves[stat][0]) for curves in repetitions)))
            values = np.array([
                [dict(zip(*curves[stat]))[s] for s in steps]
                for curves in repetitions])
            line, = ax.plot(steps, values.mean(0), label=label, marker='.')
            if len(repetitions) > 1:
                ax.fill_between(steps, values.min(0), values.max(0),
                                color=line.get_color(), alpha=0.2)
        ax.set_title(f'{titles[stat]}, {group}')
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].axhline(0, color='grey', linewidth=0.8)
    axes[0].legend(fontsize='small')
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
