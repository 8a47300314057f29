"""The data sample that carries every task's target and prediction."""
from typing import List

from mmengine.structures import BaseDataElement, PixelData


class MultiTaskDataSample(BaseDataElement):
    """Targets and predictions of several tasks for one image.

    A dense task ``t`` (see :mod:`mmsquad.tasks`) keeps its target in
    ``gt_<t>`` and its prediction in ``pred_<t>``, both
    :class:`~mmengine.structures.PixelData` whose ``data`` is a (C, H, W)
    tensor; the task kind names the fields
    (:attr:`~mmsquad.tasks.BaseTask.target_key`, ``prediction_key``). A
    sample without ``gt_<t>`` carries no label for ``t``: the task's loss
    and metric skip it. Detection follows mmdet: ``gt_instances`` /
    ``pred_instances``.
    """

    def has_target(self, task: str) -> bool:
        """Whether this sample carries a label for ``task``."""
        return f'gt_{task}' in self

    def get_target(self, task: str) -> PixelData:
        """The target of ``task``."""
        return self.get(f'gt_{task}')

    def set_target(self, task: str, data: PixelData) -> None:
        """Set the target of ``task``."""
        self.set_field(data, f'gt_{task}', dtype=PixelData)

    @property
    def labelled_tasks(self) -> List[str]:
        """Names of the dense tasks this sample has targets for."""
        return [k[3:] for k in self.keys()
                if k.startswith('gt_') and isinstance(self.get(k), PixelData)]
