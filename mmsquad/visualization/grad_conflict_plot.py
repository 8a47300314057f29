"""The logged gradient-conflict curves of runs, and their plot."""
from typing import Dict, List, Sequence, Tuple

Curve = Tuple[List[int], List[float]]
STATISTICS = ('cos_mean', 'conflict_rate')


def conflict_curves(records: Sequence[dict], group: str = 'backbone'
                    ) -> Dict[str, Curve]:
    """``{statistic: (steps, values)}`` of ``grad_conflict/<group>/...``.

    Raises:
        KeyError: When the records hold no measurement of ``group``.
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
    return curves


def plot_conflict_curves(runs: Dict[str, Sequence[Dict[str, Curve]]],
                         out_file: str, group: str = 'backbone') -> None:
    """One PNG: mean cosine and conflict rate over iterations, one line per
    run label; a label with several repetitions (seeds) is drawn as their
    mean over the steps all of them measured, in a band from their minimum
    to their maximum."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

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
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0].axhline(0, color='grey', linewidth=0.8)
    axes[0].legend(fontsize='small')
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
