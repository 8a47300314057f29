"""Use any decode head of mmseg (or another package) as a task head."""
from typing import List, Optional, Sequence, Union

from torch import Tensor

from mmsquad.registry import MODELS
from mmsquad.tasks import BaseTask
from .base_dense_head import BaseDenseTaskHead


@MODELS.register_module()
class TaskHeadAdapter(BaseDenseTaskHead):
    """Wrap a module that maps multi-level features to logits.

    Example: ``dict(type='TaskHeadAdapter', head=dict(_scope_='mmseg',
    type='ASPPHead', in_index=-1, channels=64, num_classes=21))``. Only the
    wrapped head's ``forward`` is used; the task's loss, target handling and
    prediction are mmsquad's, so partially labelled batches work the same.
    The wrapped head's ``in_channels`` default to the advertised channels
    of the levels its ``in_index`` selects, and its ``num_classes`` to the
    task's outputs (a given one must match them).

    Args:
        task: The task (a built dense task, or a preset name).
        head: Config of the wrapped head; build it in its own scope.
        loss: Loss config(s); by default the task kind's.
        feature_channels: Channels of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        feature_strides: Strides of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        align_corners: Upsampling ``align_corners``.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 task: Union[str, BaseTask],
                 head: dict,
                 loss: Optional[Union[dict, List[dict]]] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(task, loss, feature_channels, feature_strides,
                         align_corners, init_cfg)
        head = dict(head, num_classes=self.contract_out_channels(
            head.get('num_classes')))
        self.head = MODELS.build(dict(head, in_channels=self.contract_channels(
            head.get('in_channels'), self._selected_channels(head))))

    def _selected_channels(self, head: dict) -> Optional[Sequence[int]]:
        """The advertised channels of the levels ``head['in_index']``
        selects (the last level by default, as in mmseg)."""
        if self.feature_channels is None:
            return None
        index = head.get('in_index', -1)
        if isinstance(index, int):
            return self.feature_channels[index]
        return [self.feature_channels[i] for i in index]

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        return self.head(list(feats))
