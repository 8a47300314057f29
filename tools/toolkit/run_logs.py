"""Reading what mmengine logged about a run."""
import glob
import json
import os.path as osp
from typing import List


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
