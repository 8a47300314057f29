"""Parameters and FLOPs of a config's backbone and whole model.

``python tools/analysis_tools/get_flops.py CONFIG --shape H W``
"""
import argparse

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import DictAction

from mmsquad.registry import MODELS
from mmsquad.utils import register_all_modules
from mmsquad.utils.config import read_config


class _TensorOutputs(torch.nn.Module):
    """Run a multi-task model in tensor mode, returning a tuple."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple:
        out = self.model(x, mode='tensor')
        return tuple(out.values()) if isinstance(out, dict) else out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 512],
                        metavar=('H', 'W'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    model = MODELS.build(cfg.model).eval()
    shape = (3, *args.shape)
    rows = []
    for name, module in (('backbone', model.backbone),
                         ('model', _TensorOutputs(model))):
        with torch.no_grad():
            info = get_model_complexity_info(module, shape, show_table=False,
                                             show_arch=False)
        rows.append((name, info['params_str'], info['flops_str']))
    print(f'input shape: {shape}')
    for name, params, flops in rows:
        print(f'{name:<10} params {params:>10}   FLOPs {flops:>10}')


if __name__ == '__main__':
    main()
