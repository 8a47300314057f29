"""Print a config with its bases and ``--cfg-options`` merged, as mmseg's
and mmdet's ``print_config.py`` do.

``python tools/misc/print_config.py CONFIG [--cfg-options k=v ...] [--save-path FILE]``

CONFIG may be ``<package>::<path>`` for a config of an installed
OpenMMLab package (``mmdet::retinanet/retinanet_r50_fpn_1x_coco.py``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.cli import CfgOptionsAction  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, key=value pairs')
    parser.add_argument('--save-path', help='also write the merged config '
                        'to this file (.py, .json or .yaml)')
    args = parser.parse_args()
    # Imported after parsing: --help answers without loading mmengine.
    from mmsquad.utils.config import read_config
    cfg = read_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path:
        cfg.dump(args.save_path)
        print(f'saved to {args.save_path}')


if __name__ == '__main__':
    main()
