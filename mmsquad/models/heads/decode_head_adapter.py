"""Use any decode head of mmseg (or another package) as a task head."""
from typing import Dict, List, Optional, Sequence, Union

from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, LabelMapTask, build_task
from ..losses import SegLossAdapter, zero_loss
from ..utils.contracts import error_text
from ..utils.feature_probe import TRIAL_SIZE, try_on_features
from .base_dense_task_head import BaseDenseTaskHead, dense_task_losses
from .segmentor_protocol import (as_cfg, forward_needs, refines,
                                 seg_samples, selects_levels, stage_logits,
                                 stage_losses, trains_itself)


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
    FPNHead's ``feature_strides`` the selected levels', the ``channels``
    of a head without convolutions (``num_convs=0``) its features', a
    loss's ``class_weight`` written for the config's classes fitted to the
    task's (see :func:`with_class_weights`). A bundled config's
    ``in_index`` counts the levels of its own backbone (mmseg's ResNet
    gives 4); given ``backbone_levels``, the indices of every head are
    mapped onto the task's levels, deepest onto deepest, the config's
    shallowest dropped where the task has fewer levels (logged).

    Heads that train themselves are hosted as mmseg's segmentors call them
    (see :mod:`~mmsquad.models.heads.segmentor_protocol`): a cascade (a
    list of heads, as OCRNet's and PointRend's configs write it, each
    stage refining the previous one's output; losses ``decode_<i>.<name>``),
    a head with a loss of its own (DANet, EncNet, STDC's boundary head),
    a query-based head (Mask2Former, MaskFormer; it reads every level).
    They take the task's class map as mmseg's ``gt_sem_seg``, with
    ``train_cfg`` and ``test_cfg`` (the segmentor config's) as their
    settings, and predict through their own ``predict``.

    What cannot be hosted is refused when the model is built, naming the
    setting: a head that trains itself on a task that is not a class map
    or with ``loss`` given, a forward that needs more than the features
    and the protocol's arguments, a head that reads its own backbone's
    outputs rather than the levels ``in_index`` selects (DDRNet's,
    PIDNet's), an ``in_index`` beyond the feature levels, and a head that
    cannot be built for the task's features or fails on them (each head
    whose ``forward`` takes the features alone is tried once on
    meta-device features of a 512-px input, see
    :func:`~mmsquad.models.utils.feature_probe.try_on_features`; the
    cause named).

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
        train_cfg: The segmentor's ``train_cfg``, for heads that train
            themselves (PointRend's point sampling).
        test_cfg: The segmentor's ``test_cfg``, for heads that predict
            themselves (PointRend's subdivision).
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

    takes_channels_last = False  # mmdet/mmseg code: contiguous tensors

    def __init__(self,
                 task: Union[str, BaseTask],
                 head: Union[dict, List[dict]],
                 loss: Optional[Union[dict, List[dict]]] = None,
                 auxiliary_head: Optional[Union[dict, List[dict]]] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 align_corners: Optional[bool] = None,
                 backbone_levels: Optional[int] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        task = task if isinstance(task, BaseTask) else build_task(task)
        if backbone_levels is not None and feature_channels is not None:
            head, auxiliary_head = (
                None if h is None else with_task_levels(
                    h, backbone_levels, len(feature_channels))
                for h in (head, auxiliary_head))
        auxiliary = [] if auxiliary_head is None else list(auxiliary_head) \
            if isinstance(auxiliary_head, (list, tuple)) else [auxiliary_head]
        stages = list(head) if isinstance(head, (list, tuple)) else [head]
        #: Whether the head (or cascade) trains itself through its own
        #: ``loss`` (see :mod:`.segmentor_protocol`).
        self_trained = refuse_unhostable(stages, task, loss, feature_channels)
        aux_self_trained = [refuse_unhostable([h], task, None,
                                              feature_channels)
                            for h in auxiliary]
        super().__init__(task, None if self_trained else self._own_losses(
            head, task) if loss is None else loss, feature_channels,
            feature_strides, bool(align_corners), init_cfg)
        self.self_trained = self_trained
        self.train_cfg = as_cfg(train_cfg)
        self.test_cfg = as_cfg(test_cfg)
        built = [self._build(h, None if self_trained else self.losses)
                 for h in stages]
        # One head, or mmseg's ModuleList of cascade stages.
        self.head = built[0] if len(built) == 1 else nn.ModuleList(built)
        if align_corners is None:
            self.align_corners = bool(getattr(built[-1], 'align_corners',
                                              False))
        self.auxiliary_self_trained = aux_self_trained
        self.auxiliary_losses = nn.ModuleList(
            self.build_losses(None if own else self._own_losses(h, task))
            for h, own in zip(auxiliary, aux_self_trained))
        self.auxiliary_heads = nn.ModuleList(
            self._build(h, None if own else losses) for h, own, losses in
            zip(auxiliary, aux_self_trained, self.auxiliary_losses))

    @property
    def stages(self) -> List[nn.Module]:
        """The hosted head, or the stages of its cascade."""
        return list(self.head) if isinstance(self.head, nn.ModuleList) \
            else [self.head]

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

    def _build(self, head: dict,
               losses: Optional[Sequence[nn.Module]] = None) -> nn.Module:
        """``head`` with the task's classes, the contract's channels and
        the task's ignored label; ``losses`` are those its pixel sampler
        would weight (None for a head that trains itself)."""
        classes = self.contract_out_channels(head.get('num_classes'))
        head = with_class_weights(dict(head, num_classes=classes), classes)
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
        head['in_channels'] = self.contract_channels(
            head.get('in_channels'), self._selected_channels(head))
        if head.get('num_convs', 1) == 0 and isinstance(
                head['in_channels'], int) and head.get(
                    'channels', head['in_channels']) != head['in_channels']:
            # FCNHead without convolutions classifies the features as
            # they are: its channels are theirs.
            print_log(f'DecodeHeadAdapter of task {self.task.name!r}: '
                      f'{head["type"]} has num_convs=0: channels '
                      f'{head["channels"]} -> {head["in_channels"]} (the '
                      'features\' it classifies)', logger='current')
            head['channels'] = head['in_channels']
        try:
            built = MODELS.build(ConfigDict(head))  # nested: attributes
        except Exception as error:
            raise ValueError(
                f'DecodeHeadAdapter of task {self.task.name!r}: '
                f'{head["type"]} cannot be built for the task\'s features '
                f'(in_channels {head["in_channels"]}, levels of strides '
                f'{self.feature_strides}): {error_text(error)}') from error
        if self.feature_strides is not None and not forward_needs(
                type(built)):
            try:
                try_on_features(built, self.feature_channels,
                                self.feature_strides)
            except Exception as error:
                raise ValueError(
                    f'DecodeHeadAdapter of task {self.task.name!r}: '
                    f'{head["type"]} fails on the task\'s features '
                    f'(channels {self.feature_channels}, strides '
                    f'{self.feature_strides}, tried at {TRIAL_SIZE} px): '
                    f'{error_text(error)}') from error
        if hasattr(built, 'ignore_index'):  # mmseg's, used by its sampler
            built.ignore_index = self.task.ignore_index
        if losses is not None and getattr(built, 'sampler', None) is not None:
            unweighted = [type(loss).__name__ for loss in losses
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
        selects (the last level by default, as in mmseg); every level's
        for a head that has no ``in_index`` (a query-based head's pixel
        decoder reads them all)."""
        if self.feature_channels is None:
            return None
        kind = head_class(head)
        if 'in_index' not in head and kind is not None and not issubclass(
                kind, BaseDecodeHead):
            return list(self.feature_channels)
        index = head.get('in_index', -1)
        if isinstance(index, int):
            return self.feature_channels[index]
        return [self.feature_channels[i] for i in index]

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Logits at feature resolution; a head that trains itself gives
        the logits it predicts, at the input size its features imply."""
        if self.self_trained:
            stride = self.feature_strides[0] if self.feature_strides else 1
            shape = [n * stride for n in feats[0].shape[-2:]]
            return stage_logits(self.stages, list(feats), shape,
                                self.test_cfg)
        return self.head(list(feats))

    def export(self, feats: Sequence[Tensor],
               batch_shape: Sequence[int]) -> Dict[str, Tensor]:
        """``{task name: activated outputs}`` at the padded input size; a
        head that trains itself predicts at that size through its own
        ``predict`` (a query-based head's class scores: their softmax keeps
        the predicted class)."""
        if not self.self_trained:
            return super().export(feats, batch_shape)
        logits = stage_logits(self.stages, list(feats), batch_shape,
                              self.test_cfg)
        return {self.task.name: self.task.activate(
            self._resize(logits, batch_shape))}

    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """The head's losses and the auxiliary heads' (``aux.<name>``),
        each weighted by its head's pixel sampler where it has one; heads
        that train themselves give their own."""
        if self.self_trained:
            losses = self._self_trained_losses(self.stages, feats,
                                               data_samples)
        else:
            losses = dense_task_losses(
                self.task, self.losses, self(feats), data_samples,
                self.align_corners, getattr(self.head, 'sampler', None))
        for i, (head, own, aux_losses) in enumerate(zip(
                self.auxiliary_heads, self.auxiliary_self_trained,
                self.auxiliary_losses)):
            prefix = 'aux' if len(self.auxiliary_heads) == 1 else f'aux_{i}'
            values = self._self_trained_losses(
                [head], feats, data_samples) if own else dense_task_losses(
                    self.task, aux_losses, head(list(feats)), data_samples,
                    getattr(head, 'align_corners', self.align_corners),
                    getattr(head, 'sampler', None))
            for name, value in values.items():
                losses[f'{prefix}.{name}'] = value
        return losses

    def _self_trained_losses(self, stages: Sequence[nn.Module],
                             feats: Sequence[Tensor],
                             data_samples: List[MultiTaskDataSample]
                             ) -> Dict[str, Tensor]:
        """The own losses of ``stages`` on the samples that carry the
        task's class map; without any, a zero that reaches every parameter
        of the stages (DDP-safe)."""
        labelled = [i for i, s in enumerate(data_samples)
                    if s.has_target(self.task.name)]
        if not labelled:
            return {'loss_decode': sum(
                zero_loss(p) for stage in stages for p in stage.parameters())}
        targets = [data_samples[i].get_target(self.task.name).data
                   for i in labelled]
        if len(labelled) < len(data_samples):
            feats = [f[labelled] for f in feats]
        return stage_losses(stages, list(feats),
                            seg_samples(targets, targets[0].shape[-2:]),
                            self.train_cfg)


def with_task_levels(head: Union[dict, list], backbone_levels: int,
                     levels: int) -> Union[dict, list]:
    """``head`` (or each head of a cascade) with its ``in_index``, which
    counts the ``backbone_levels`` of its config's backbone, mapped onto
    ``levels`` task levels: deepest onto deepest, indices that fall below
    the task's shallowest level dropped from a list (a single index goes
    to the shallowest level). Logs what it changes."""
    if isinstance(head, (list, tuple)):
        return [with_task_levels(h, backbone_levels, levels) for h in head]
    if 'in_index' not in head and not issubclass(
            head_class(head) or BaseDecodeHead, BaseDecodeHead):
        return head  # a query-based head reads every level
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


def with_class_weights(head: dict, classes: int) -> dict:
    """``head`` with every loss's ``class_weight`` fitted to the task's
    ``classes``: one of ``classes`` (or ``classes + 1``, a query head's
    no-object weight last) entries is kept; a config's equal weights with
    a different last one (``[1.0] * 150 + [0.1]``) become ``classes`` equal
    weights and that last one (logged).

    Raises:
        ValueError: For other weights, naming the key: they weigh the
            classes of the config's dataset.
    """
    def fitted(item):
        if isinstance(item, list):
            return [fitted(i) for i in item]
        if not isinstance(item, dict):
            return item
        item = {k: fitted(v) for k, v in item.items()}
        weights = item.get('class_weight')
        if not isinstance(weights, (list, tuple)) or len(weights) in (
                classes, classes + 1):
            return item
        if len(set(weights[:-1])) == 1 and len(weights) > 1:
            item['class_weight'] = [weights[0]] * classes + [weights[-1]]
            print_log(f'{head["type"]} {item.get("type")}: class_weight of '
                      f'{len(weights)} entries -> {classes} of '
                      f'{weights[0]} and the no-object weight '
                      f'{weights[-1]} (the task\'s classes)',
                      logger='current')
            return item
        raise ValueError(
            f'{head["type"]} {item.get("type")}: class_weight has '
            f'{len(weights)} entries (the classes of its config\'s dataset); '
            f'the task has {classes} classes: give class_weight for them '
            'or remove it')

    return fitted(head)


def head_class(head: dict) -> Optional[type]:
    """The registered class of a head config (in its ``_scope_``), or None
    when the type is unknown (the build then names it)."""
    kind = head['type']
    if isinstance(kind, str):
        scope = head.get('_scope_')
        kind = MODELS.get(f'{scope}.{kind}' if scope and '.' not in kind
                          else kind)
    return kind


def refuse_unhostable(stages: List[dict], task: BaseTask,
                      loss: Optional[Union[dict, List[dict]]],
                      feature_channels: Optional[Sequence[int]]) -> bool:
    """Whether a decode head (``stages`` of one) or a cascade trains
    itself (see :mod:`.segmentor_protocol`).

    Raises:
        ValueError: Naming what makes it impossible to host (see
            :class:`DecodeHeadAdapter`).
    """
    kinds = [head_class(h) for h in stages]
    names = [h['type'] if k is None else k.__name__
             for h, k in zip(stages, kinds)]
    for head, kind, name in zip(stages, kinds, names):
        _check_in_index(head, name, feature_channels)
        if kind is None:
            continue
        if head is stages[0]:
            extra = [n for n in forward_needs(kind)
                     if n != 'batch_data_samples']
            if extra:
                raise ValueError(
                    f'{name} cannot be hosted: its forward needs {extra} '
                    'besides the features' + (
                        ' (a cascade stage: list it after the head it '
                        'refines)' if 'prev_output' in extra else ''))
        elif not refines(kind):
            raise ValueError(
                f'{name} cannot be a later stage of the cascade {names}: '
                'its loss takes no prev_output (the previous stage\'s '
                'logits)')
        if not selects_levels(kind):
            raise ValueError(
                f'{name} cannot be hosted: it does not read the feature '
                'levels its in_index selects (mmseg\'s _transform_inputs); '
                'it unpacks its own backbone\'s outputs or nests other heads')
    self_trained = len(stages) > 1 or any(
        k is not None and trains_itself(k) for k in kinds)
    if not self_trained:
        return False
    what = f'{names} (a cascade)' if len(stages) > 1 else names[0]
    if not isinstance(task, LabelMapTask):
        raise ValueError(
            f'{what} trains itself on class labels (mmseg\'s gt_sem_seg); '
            f'task {task.name!r} is a {type(task).__name__}, not a class '
            'map: not hosted')
    if loss is not None:
        raise ValueError(
            f'{what} trains itself with its own losses; loss= cannot '
            'replace them: remove it, or choose a head without a loss of '
            'its own')
    return True


def _check_in_index(head: dict, name: str,
                    feature_channels: Optional[Sequence[int]]) -> None:
    """Raise ``ValueError`` when ``head['in_index']`` selects a level the
    task does not have."""
    if feature_channels is None:
        return
    index = head.get('in_index', -1)
    levels = len(feature_channels)
    wrong = [i for i in (index if isinstance(index, (list, tuple))
                         else [index]) if not -levels <= i < levels]
    if wrong:
        shown = wrong[0] if len(wrong) == 1 else wrong
        raise ValueError(
            f'{name}: in_index {shown} selects no level: the task has '
            f'{levels} feature levels (in_index -{levels}..{levels - 1}); '
            'set in_index in the head config, or backbone_levels to the '
            'levels of the backbone it was written for (mmseg\'s ResNet: 4)')
