"""Use any decode head of mmseg (or another package) as a task head."""
from typing import Dict, List, Optional, Sequence, Union

from mmengine.logging import print_log
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, LabelMapTask, build_task
from .base_dense_task_head import BaseDenseTaskHead, dense_task_losses


@MODELS.register_module()
class DecodeHeadAdapter(BaseDenseTaskHead):
    """Wrap a module that maps multi-level features to logits.

    Example: ``dict(type='DecodeHeadAdapter', head=dict(_scope_='mmseg',
    type='ASPPHead', in_index=-1, channels=64, num_classes=21))``. The
    wrapped head's ``forward`` makes the logits; target handling, partial
    labels and prediction are mmsquad's. Its ``in_channels`` default to the
    advertised channels of the levels its ``in_index`` selects, and its
    ``num_classes`` to the task's outputs (a given one must match them).
    Its losses are its own ``loss_decode`` (as mmseg's configs write it,
    built in the head's scope) for a class-map task (``LabelMapTask``),
    unless ``loss`` is given; otherwise the task kind's (for other kinds a
    ``loss_decode`` is logged as not used).

    An mmseg ``auxiliary_head`` (or a list of them) trains beside it, as in
    mmseg's ``EncoderDecoder``: on the same features, with its own
    ``loss_decode`` (mmseg's configs weight it 0.4), its losses named
    ``aux.<name>`` (``aux_<i>.<name>`` for several); it does not predict.

    Args:
        task: The task (a built dense task, or a preset name).
        head: Config of the wrapped head; build it in its own scope.
        loss: Loss config(s); by default the head's ``loss_decode``, or
            the task kind's.
        auxiliary_head: Config(s) of auxiliary heads, or None.
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
                 auxiliary_head: Optional[Union[dict, List[dict]]] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        task = task if isinstance(task, BaseTask) else build_task(task)
        super().__init__(task, self._own_losses(head, task)
                         if loss is None else loss, feature_channels,
                         feature_strides, align_corners, init_cfg)
        self.head = self._build(head)
        auxiliary = [] if auxiliary_head is None else auxiliary_head \
            if isinstance(auxiliary_head, (list, tuple)) else [auxiliary_head]
        self.auxiliary_heads = nn.ModuleList(self._build(h)
                                             for h in auxiliary)
        self.auxiliary_losses = nn.ModuleList(
            self.build_losses(self._own_losses(h, task)) for h in auxiliary)

    @staticmethod
    def _own_losses(head: dict, task: BaseTask
                    ) -> Optional[Union[dict, List[dict]]]:
        """A wrapped head's ``loss_decode`` config(s) in the head's scope,
        for a :class:`~mmsquad.tasks.LabelMapTask` (the class maps mmseg's
        decode-head losses score); None (the task kind's loss) when it
        gives none, or for other kinds, where it is logged as not used (a
        binary map has one output channel: mmseg's default softmax
        cross-entropy would be zero)."""
        losses = head.get('loss_decode')
        if losses is None:
            return None
        if not isinstance(task, LabelMapTask):
            print_log(f'DecodeHeadAdapter of task {task.name!r}: the head\'s '
                      'loss_decode is for class labels and is not used; '
                      f'{type(task).__name__} trains with its own loss '
                      '(give loss= to choose another)', logger='current')
            return None
        scope = head.get('_scope_')
        scoped = [dict(loss, _scope_=loss.get('_scope_', scope))
                  if scope else dict(loss)
                  for loss in (losses if isinstance(losses, (list, tuple))
                               else [losses])]
        return scoped if isinstance(losses, (list, tuple)) else scoped[0]

    def _build(self, head: dict) -> nn.Module:
        """``head`` with the task's classes and the contract's channels."""
        head = dict(head, num_classes=self.contract_out_channels(
            head.get('num_classes')))
        return MODELS.build(dict(head, in_channels=self.contract_channels(
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

    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """The head's losses and the auxiliary heads' (``aux.<name>``)."""
        losses = super().loss(feats, data_samples)
        for i, (head, aux_losses) in enumerate(zip(self.auxiliary_heads,
                                                   self.auxiliary_losses)):
            prefix = 'aux' if len(self.auxiliary_heads) == 1 else f'aux_{i}'
            for name, value in dense_task_losses(
                    self.task, aux_losses, head(list(feats)), data_samples,
                    self.align_corners).items():
                losses[f'{prefix}.{name}'] = value
        return losses

