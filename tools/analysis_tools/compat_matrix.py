"""Host every model family that the installed mmdet and mmseg bundle as a
task (and mmpretrain's backbones, where it imports), and write the
compatibility matrix.

``python tools/analysis_tools/compat_matrix.py [--families mmdet:ssd ...]
[--out docs/compatibility.md]``

Each family's representative config is hosted on SquadNet-tiny, trained
2 iterations on generated data, made to predict, and compared with its
package's own loss (the rules: ``tools/toolkit/compat.py``). Finished
families are cached in ``--work-dir`` (keyed by the packages' versions
and mmsquad's source), so that an interrupted run goes on where it
stopped. Without
``--families`` it writes ``--out`` with the table and the summary lines.
"""
import argparse
import json
import os
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit import compat  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Host every mmdet and '
                                     'mmseg model family as a task')
    parser.add_argument('--families', nargs='+', default=None,
                        help='only these, as PACKAGE:FOLDER (e.g. '
                        'mmdet:ssd mmseg:ocrnet); nothing is written to '
                        '--out')
    parser.add_argument('--out', default='docs/compatibility.md',
                        help='the matrix (markdown) written after a full '
                        'run')
    parser.add_argument('--work-dir', default='work_dirs/compat',
                        help='generated data and the cache of finished '
                        'families')
    parser.add_argument('--fresh', action='store_true',
                        help='check every family again (ignore the cache)')
    return parser.parse_args()


def selected(families, skipped: dict) -> dict:
    """``{package: [family, ...]}`` to check (none of a package in
    ``skipped``, ``{package: why}``)."""
    every = (*compat.PACKAGES, *compat.BACKBONE_PACKAGES)
    if families is None:
        return {p: compat.families(p) for p in every if p not in skipped}
    chosen: dict = {}
    for item in families:
        package, _, family = item.partition(':')
        if package in skipped:
            sys.exit(f'compat_matrix.py: {package} is not checked here: '
                     f'{skipped[package]}')
        if package not in every or family not in compat.families(package):
            sys.exit(f'compat_matrix.py: {item!r} is no family; give '
                     f'PACKAGE:FOLDER with PACKAGE one of {every}')
        chosen.setdefault(package, []).append(family)
    return chosen


def main() -> None:
    args = parse_args()
    warnings.filterwarnings('ignore')
    from mmengine.logging import MMLogger
    MMLogger.get_instance('compat', log_level='ERROR')
    from mmsquad.utils import register_all_modules
    register_all_modules()
    data_root = osp.join(args.work_dir, 'underwater_demo')
    if not osp.exists(osp.join(data_root, 'proposals')):  # older layouts
        from toolkit.synthetic import make_underwater_demo
        make_underwater_demo(data_root, num_train=2, num_test=1, size=64,
                             seed=1)
    cache_path = osp.join(args.work_dir, 'cache.json')
    cache = {} if args.fresh or not osp.exists(cache_path) else json.load(
        open(cache_path))
    stamp = compat.cache_key()
    skipped = {p: why for p in compat.BACKBONE_PACKAGES
               if (why := compat.unavailable(p))}
    for package, why in skipped.items():
        print(f'{package}: not checked: {why}', flush=True)
    chosen = selected(args.families, skipped)
    total = sum(len(f) for f in chosen.values())
    results, done = {}, 0
    for package, names in chosen.items():
        results[package] = []
        for family in names:
            done += 1
            key = f'{package}:{family}'
            hit = cache.get(key)
            if hit and hit.get('versions') == stamp:
                outcome = compat.Outcome(**hit['outcome'])
                took = 'cached'
            else:
                outcome = compat.check_family(package, family, data_root)
                took = f'{outcome.seconds:.0f} s'
                cache[key] = dict(versions=stamp,
                                  outcome=outcome._asdict())
                os.makedirs(args.work_dir, exist_ok=True)
                with open(cache_path, 'w') as f:
                    json.dump(cache, f, indent=1)
            results[package].append(outcome)
            print(f'[{done}/{total}] {key}: {outcome.status} ({took}) '
                  f'{outcome.detail}', flush=True)
    for package in results:
        print(compat.summary_line(package, results[package]))
    if args.families is None:
        with open(args.out, 'w') as f:
            f.write(compat.markdown(results, skipped))
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
