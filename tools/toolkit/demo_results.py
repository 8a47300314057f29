"""The headline numbers of the demos: checked against floors when a demo
runs, and recorded with the commit and machine that measured them, for the
README and the docs test."""
import json
import os.path as osp
from typing import Dict, List, Optional

from .experiment import PACKAGE_ROOT, code_commit, machine

#: Where ``--record`` keeps every demo's last recorded numbers.
RESULTS = osp.join(PACKAGE_ROOT, 'docs', 'demo_results.json')


def below_floors(metrics: Dict[str, float], floors: Dict[str, float],
                 ceilings: Optional[Dict[str, float]] = None) -> List[str]:
    """``'<key> <value> < <floor>'`` for every metric below its floor, and
    ``'<key> <value> > <ceiling>'`` for every lower-is-better one above its
    ceiling (a missing metric fails both)."""
    nan = float('nan')
    short = [f'{key} {metrics.get(key, nan):.4f} < {floor}'
             for key, floor in floors.items()
             if not metrics.get(key, nan) >= floor]
    return short + [f'{key} {metrics.get(key, nan):.4f} > {ceiling}'
                    for key, ceiling in (ceilings or {}).items()
                    if not metrics.get(key, nan) <= ceiling]


def record(demo: str, metrics: Dict[str, float], minutes: float,
           path: str = RESULTS) -> dict:
    """Store ``metrics`` of ``demo`` at ``path`` (beside the other demos'),
    with the commit and machine that measured them and the minutes the
    demo took; return the stored entry."""
    results = load(path)
    results[demo] = dict(metrics=metrics, commit=code_commit(),
                         machine=machine(), minutes=round(minutes, 1))
    with open(path, 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write('\n')
    return results[demo]


def load(path: str = RESULTS) -> dict:
    """Every recorded demo's entry (``{}`` when nothing is recorded)."""
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


#: What the README's key-results table quotes: ``(demo, make target,
#: metric key, label, format)``.
HEADLINES = (
    ('demo', 'make demo', 'semseg/mIoU', 'semseg mIoU', '{:.1f}'),
    ('demo', 'make demo', 'human_parts/mIoU', 'human parts mIoU', '{:.1f}'),
    ('demo', 'make demo', 'sal/maxF', 'saliency maxF', '{:.1f}'),
    ('demo', 'make demo', 'normals/mean', 'normals mean error (degrees)',
     '{:.1f}'),
    ('demo', 'make demo', 'multitask/delta_m', 'delta_m (%)', '{:+.1f}'),
    ('underwater_demo', 'make demo-underwater', 'coco/bbox_mAP', 'bbox mAP',
     '{:.3f}'),
    ('underwater_demo', 'make demo-underwater', 'coco/bbox_mAP_50',
     'bbox mAP@0.5', '{:.3f}'),
    ('underwater_demo', 'make demo-underwater', 'enhance/psnr',
     'enhanced PSNR (dB)', '{:.2f}'),
)


def results_table(results: dict) -> str:
    """The README's key-results table (markdown) of recorded ``results``,
    with the commit and machine of each demo's numbers."""
    rows = ['| demo | metric | value |', '|---|---|---|']
    for demo, target, key, label, fmt in HEADLINES:
        value = results[demo]['metrics'][key]
        rows.append(f'| `{target}` | {label} | {fmt.format(value)} |')
    rows.append('')
    for demo, target in dict.fromkeys((d, t) for d, t, *_ in HEADLINES):
        entry = results[demo]
        rows.append(f'`{target}`: commit `{entry["commit"]}`, '
                    f'{entry["machine"]}, {entry["minutes"]} minutes.')
    return '\n'.join(rows)
