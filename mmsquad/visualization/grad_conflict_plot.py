"""Reading the logged gradient-conflict curves of runs, and plotting them."""
import glob
import json
import os.path as osp
from typing import Dict, List, Sequence, Tuple

Curve = Tuple[List[int], List[float]]
STATISTICS = ('cos_mean', 'conflict_rate')


def read_scalars(work_dir: str) -> List[dict]:
    """The logged scalar records of the latest run in ``work_dir``
    (``<timestamp>/vis_data/scalars.json``, one JSON object per line).

    Raises:
        FileNotFoundError: When ``work_dir`` holds no run with scalars.
    """
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        raise FileNotFoundError(
            f'no <timestamp>/vis_data/scalars.json in {work_dir}: is it the '
            'work dir of a training run (with the LocalVisBackend)?')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


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


def plot_conflict_curves(runs: Dict[str, Dict[str, Curve]], out_file: str,
                         group: str = 'backbone') -> None:
    """One PNG: mean cosine and conflict rate over iterations, one line per
    run."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    titles = dict(cos_mean='mean pairwise cosine',
                  conflict_rate='conflict rate (pairs with cosine < 0)')
    fig, axes = plt.subplots(1, len(STATISTICS), figsize=(11, 4))
    for ax, stat in zip(axes, STATISTICS):
        for label, curves in runs.items():
            steps, values = curves[stat]
            ax.plot(steps, values, label=label, marker='.')
        ax.set_title(f'{titles[stat]}, {group}')
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0].axhline(0, color='grey', linewidth=0.8)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
