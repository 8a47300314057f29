"""Saving prediction panels during validation and testing."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
from mmengine.hooks import Hook
from mmengine.visualization import Visualizer

from mmsquad.models.utils import inner_model
from mmsquad.registry import HOOKS
from mmsquad.structures import MultiTaskDataSample


@HOOKS.register_module()
class MultiTaskVisualizationHook(Hook):
    """Draw a panel (input, every task's ground truth and prediction) for
    the first image of every ``interval``-th validation batch, up to
    ``max_panels`` per validation; with ``draw=True``, also for every test
    image, written under ``<work_dir>/<timestamp>/<test_out_dir>``.

    Args:
        interval: Batches between validation panels.
        max_panels: Panels per validation run.
        draw: Draw test panels too (``tools/test.py --show-dir`` sets it).
        test_out_dir: Directory of the test panels.
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 1, max_panels: int = 4,
                 draw: bool = False,
                 test_out_dir: Optional[str] = None) -> None:
        self.interval = interval
        self.max_panels = max_panels
        self.draw = draw
        self.test_out_dir = test_out_dir
        self._drawn = 0

    def before_val_epoch(self, runner) -> None:
        self._drawn = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[MultiTaskDataSample]) -> None:
        if batch_idx % self.interval or self._drawn >= self.max_panels:
            return
        sample = outputs[0]
        self._draw(runner, f'val_{_name(sample)}', sample, runner.iter)
        self._drawn += 1

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[MultiTaskDataSample]) -> None:
        if not self.draw:
            return
        out_dir = osp.join(runner.work_dir, runner.timestamp,
                           self.test_out_dir or 'panels')
        for sample in outputs:
            self._draw(runner, f'test_{_name(sample)}', sample, 0,
                       osp.join(out_dir, f'{_name(sample)}.png'))

    @staticmethod
    def _draw(runner, name: str, sample: MultiTaskDataSample, step: int,
              out_file: Optional[str] = None) -> None:
        model = inner_model(runner.model)
        image = mmcv.imread(sample.img_path, channel_order='rgb')
        Visualizer.get_current_instance().add_datasample(
            name, image, sample, step=step, out_file=out_file,
            tasks=model.tasks)


def _name(sample: MultiTaskDataSample) -> str:
    """The sample's image id, or its file name without extension (mmseg's
    and some mmdet datasets give no id)."""
    if 'img_id' in sample:
        return str(sample.img_id)
    return osp.splitext(osp.basename(sample.img_path))[0]
