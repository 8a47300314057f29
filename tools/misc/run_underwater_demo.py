"""`make demo-underwater`: render the underwater demo data if absent, train
configs/squad/underwater_demo.py on it, evaluate the final checkpoint with
tools/test.py, and print its bbox mAP and enhanced-output PSNR beside the
PSNR of the raw degraded inputs against the same references."""
import glob
import json
import os.path as osp

import mmcv
import numpy as np
import torch
from run_demo import ROOT, run

from mmsquad.functional import psnr

CONFIG = osp.join('configs', 'squad', 'underwater_demo.py')
DATA = osp.join('data', 'underwater_demo')
WORK_DIR = osp.join('work_dirs', 'underwater_demo')


def ensure_demo_data() -> None:
    """Render the demo into data/underwater_demo unless it is there."""
    if not osp.isfile(osp.join(ROOT, DATA, 'annotations',
                               'instances_test.json')):
        run('tools/misc/make_underwater_demo.py', '--out', DATA)


def raw_input_psnr(data_root: str, split: str = 'test') -> float:
    """Mean PSNR of the degraded inputs against their references."""
    values = []
    for path in sorted(glob.glob(osp.join(data_root, 'images', split, '*'))):
        ref_path = osp.join(data_root, 'reference', split, osp.basename(path))
        pair = [torch.from_numpy(mmcv.imread(p, channel_order='rgb'))
                .permute(2, 0, 1).float() / 255 for p in (path, ref_path)]
        values.append(psnr(*pair))
    return float(np.mean(values))


def last_test_metrics(work_dir: str) -> dict:
    """The metrics of the latest run logged under ``work_dir``."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    with open(logs[-1]) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def main() -> None:
    ensure_demo_data()
    run('tools/train.py', CONFIG, '--work-dir', WORK_DIR)
    with open(osp.join(ROOT, WORK_DIR, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    run('tools/test.py', CONFIG, checkpoint, '--work-dir', WORK_DIR)
    metrics = last_test_metrics(osp.join(ROOT, WORK_DIR))
    raw = raw_input_psnr(osp.join(ROOT, DATA))
    print(f'underwater demo (test split): bbox mAP '
          f'{metrics["coco/bbox_mAP"]:.3f} (mAP@0.5 '
          f'{metrics["coco/bbox_mAP_50"]:.3f}); enhanced PSNR '
          f'{metrics["enhance/psnr"]:.2f} dB vs raw input PSNR {raw:.2f} dB '
          f'(SSIM {metrics["enhance/ssim"]:.3f}, UIQM '
          f'{metrics["enhance/uiqm"]:.3f}, UCIQE '
          f'{metrics["enhance/uciqe"]:.3f})', flush=True)


if __name__ == '__main__':
    main()
