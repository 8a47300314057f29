"""Use any decode head of mmseg (or another package) as a task head."""
import inspect
from typing import Dict, List, Optional, Sequence, Union

from mmengine.logging import print_log
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, LabelMapTask, build_task
from ..losses import SegLossAdapter
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

    What a head's config asks for is carried out as mmseg does it: a pixel
    ``sampler`` (``OHEMPixelSampler``) weights its losses, its
    ``align_corners`` upsamples the logits, its ``ignore_index`` is the
    task's; DeepLabV3+'s ``c1_in_channels`` are the first feature level's,
    FPNHead's ``feature_strides`` the selected levels'. A bundled config's
    ``in_index`` counts the levels of its own backbone (mmseg's ResNet
    gives 4); given ``backbone_levels``, the indices of every head are
    mapped onto the task's levels, deepest onto deepest, the config's
    shallowest dropped where the task has fewer levels (logged).
    What cannot be hosted is refused when the model is built,
    naming the setting: cascade heads (a list, as OCRNet's), heads whose
    ``forward`` needs more than the features (``prev_output``,
    ``batch_data_samples``), heads with losses of their own (query-based
    heads such as Mask2Former's), an ``in_index`` beyond the feature
    levels.

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
        align_corners: ``align_corners`` of the logits' upsampling; by
            default the head's (mmseg's heads have one), else False.
        backbone_levels: How many feature levels the backbone of the
            heads' config gives, to map their ``in_index`` onto the task's
            levels; None to take ``in_index`` as it is.
        init_cfg: Initialisation config.

    Example:
        >>> from mmengine.hub import get_config
        >>> seg = get_config('mmseg::pspnet/pspnet_r50-d8_4xb2-40k_'
        ...                  'cityscapes-512x1024.py').model
        >>> head = dict(seg.decode_head, _scope_='mmseg')
        >>> for key in ('in_channels', 'num_classes'):
        ...     head.pop(key)
        >>> semseg = dict(type='DecodeHeadAdapter', head=head,
        ...               backbone_levels=4)  # ResNet's out_indices
    """

    def __init__(self,
                 task: Union[str, BaseTask],
                 head: dict,
                 loss: Optional[Union[dict, List[dict]]] = None,
                 auxiliary_head: Optional[Union[dict, List[dict]]] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 align_corners: Optional[bool] = None,
                 backbone_levels: Optional[int] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        task = task if isinstance(task, BaseTask) else build_task(task)
        if backbone_levels is not None and feature_channels is not None:
            head, auxiliary_head = (
                None if h is None else with_task_levels(
                    h, backbone_levels, len(feature_channels))
                for h in (head, auxiliary_head))
        for config in [head, *(auxiliary_head if isinstance(
                auxiliary_head, (list, tuple)) else [auxiliary_head])]:
            refuse_unhostable(config, feature_channels)
        super().__init__(task, self._own_losses(head, task)
                         if loss is None else loss, feature_channels,
                         feature_strides, bool(align_corners), init_cfg)
        self.head = self._build(head)
        if align_corners is None:
            self.align_corners = bool(getattr(self.head, 'align_corners',
                                              False))
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
        """``head`` with the task's classes, the contract's channels and
        the task's ignored label."""
        head = dict(head, num_classes=self.contract_out_channels(
            head.get('num_classes')))
        if 'c1_in_channels' in head and self.feature_channels is not None:
            # DeepLabV3+'s low-level branch reads the first level.
            if head['c1_in_channels'] != self.feature_channels[0]:
                print_log(f'DecodeHeadAdapter of task {self.task.name!r}: '
                          f'{head["type"]} c1_in_channels '
                          f'{head["c1_in_channels"]} -> '
                          f'{self.feature_channels[0]} (the first feature '
                          'level, which its low-level branch reads)',
                          logger='current')
            head['c1_in_channels'] = self.feature_channels[0]
        if 'feature_strides' in head and self.feature_strides is not None:
            # FPNHead upsamples each level by its stride.
            index = head.get('in_index', -1)
            strides = [self.feature_strides[i] for i in (
                index if isinstance(index, (list, tuple)) else [index])]
            if list(head['feature_strides']) != strides:
                print_log(f'DecodeHeadAdapter of task {self.task.name!r}: '
                          f'{head["type"]} feature_strides '
                          f'{list(head["feature_strides"])} -> {strides} '
                          '(the strides of the levels it reads)',
                          logger='current')
            head['feature_strides'] = strides
        built = MODELS.build(dict(head, in_channels=self.contract_channels(
            head.get('in_channels'), self._selected_channels(head))))
        if hasattr(built, 'ignore_index'):  # mmseg's, used by its sampler
            built.ignore_index = self.task.ignore_index
        if getattr(built, 'sampler', None) is not None:
            unweighted = [type(loss).__name__ for loss in self.losses
                          if not isinstance(loss, SegLossAdapter)]
            if unweighted:
                raise ValueError(
                    f'DecodeHeadAdapter of task {self.task.name!r}: the '
                    f'head\'s sampler ({type(built.sampler).__name__}) '
                    f'weights mmseg\'s losses; {unweighted} take no pixel '
                    'weights: use mmseg losses or remove the sampler')
        return built

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
        """The head's losses and the auxiliary heads' (``aux.<name>``),
        each weighted by its head's pixel sampler where it has one."""
        losses = dense_task_losses(
            self.task, self.losses, self(feats), data_samples,
            self.align_corners, getattr(self.head, 'sampler', None))
        for i, (head, aux_losses) in enumerate(zip(self.auxiliary_heads,
                                                   self.auxiliary_losses)):
            prefix = 'aux' if len(self.auxiliary_heads) == 1 else f'aux_{i}'
            for name, value in dense_task_losses(
                    self.task, aux_losses, head(list(feats)), data_samples,
                    getattr(head, 'align_corners', self.align_corners),
                    getattr(head, 'sampler', None)).items():
                losses[f'{prefix}.{name}'] = value
        return losses


def with_task_levels(head: Union[dict, list], backbone_levels: int,
                     levels: int) -> Union[dict, list]:
    """``head`` (or each head of a cascade) with its ``in_index``, which
    counts the ``backbone_levels`` of its config's backbone, mapped onto
    ``levels`` task levels: deepest onto deepest, indices that fall below
    the task's shallowest level dropped from a list (a single index goes
    to the shallowest level). Logs what it changes."""
    if isinstance(head, (list, tuple)):
        return [with_task_levels(h, backbone_levels, levels) for h in head]
    index = head.get('in_index', -1)
    if isinstance(index, (list, tuple)):
        index = list(index)
        shifted = [i % backbone_levels - backbone_levels + levels
                   for i in index]
        mapped = [i for i in shifted if i >= 0] or [0]
    else:
        mapped = max(index % backbone_levels - backbone_levels + levels, 0)
    if mapped != (index if isinstance(index, list) else index % levels):
        print_log(f'{head["type"]}: in_index {index} (of {backbone_levels} '
                  f'backbone levels) -> {mapped} (of the task\'s {levels})',
                  logger='current')
    return dict(head, in_index=mapped)


def refuse_unhostable(head, feature_channels: Optional[Sequence[int]]
                      ) -> None:
    """Raise ``ValueError`` naming what makes a decode-head config
    impossible to host (see :class:`DecodeHeadAdapter`); nothing for one
    that can be."""
    if head is None:
        return
    if isinstance(head, (list, tuple)):
        kinds = [h.get('type') for h in head]
        raise ValueError(
            f'DecodeHeadAdapter hosts one decode head; {kinds} is a cascade '
            '(each head refining the previous one\'s output, as OCRNet\'s '
            'and PointRend\'s configs): not hosted. Host its last head '
            'alone only if it needs nothing but the features')
    index = head.get('in_index', -1)
    if feature_channels is not None:
        levels = len(feature_channels)
        wrong = [i for i in (index if isinstance(index, (list, tuple))
                             else [index]) if not -levels <= i < levels]
        if wrong:
            shown = wrong[0] if len(wrong) == 1 else wrong
            raise ValueError(
                f'{head["type"]}: in_index {shown} selects no level: the '
                f'task has {levels} feature levels (in_index -{levels}..'
                f'{levels - 1}); set in_index in the head config, or '
                'backbone_levels to the levels of the backbone it was '
                'written for (mmseg\'s ResNet: 4)')
    kind = head['type']
    if isinstance(kind, str):
        scope = head.get('_scope_')
        kind = MODELS.get(f'{scope}.{kind}' if scope and '.' not in kind
                          else kind)
    if kind is None:
        return  # the build names the unknown type
    needs = [name for name, p in list(inspect.signature(
        kind.forward).parameters.items())[2:]
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL,
                                                   p.VAR_KEYWORD)]
    if needs:
        raise ValueError(
            f'{kind.__name__} cannot be hosted: its forward needs {needs} '
            'besides the features (a cascade stage, or a query-based head)')
    own = _own_loss(kind)
    if own:
        raise ValueError(
            f'{kind.__name__} computes its own loss ({own}) that '
            "mmsquad's per-pixel losses would replace: not hosted")


def _own_loss(kind: type) -> Optional[str]:
    """``loss`` or ``loss_by_feat`` where ``kind`` defines one below
    mmseg's ``BaseDecodeHead`` (whose per-pixel losses mmsquad carries
    out), else None."""
    for base in kind.__mro__:
        if base is nn.Module or base.__name__ == 'BaseDecodeHead':
            return None
        for name in ('loss', 'loss_by_feat'):
            if name in vars(base):
                return name
    return None
