"""Any mmdet neck + dense head as the detection task of a multi-task
model."""
import inspect
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmdet.structures.mask import BitmapMasks
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, BoxTask
from ..utils.contracts import error_text
from ..utils.feature_probe import TRIAL_SIZE, try_on_features
from .base_task_head import BaseTaskHead


@MODELS.register_module()
class DenseHeadAdapter(BaseTaskHead):
    """Detect objects (a :class:`~mmsquad.tasks.BoxTask`) from multi-level
    features with an mmdet neck (optional) and an mmdet dense head, both
    built from config (``_scope_='mmdet'``), so any one-stage head that
    works from multi-level features drops in by config. The neck's
    ``in_channels`` default to the advertised ``feature_channels``, the
    head's to the neck's ``out_channels``.

    The strides of the head's priors (anchors, points) are checked against
    the strides its features have: the advertised ``feature_strides``,
    through an FPN-like neck (its ``start_level``, ``backbone_end_level`` and
    ``num_outs``; extra levels double the stride). mmdet's configs assume a
    ResNet FPN (8 to 128); a mismatch is an error naming both lists and the
    config key to change, or, with ``strides_from_features=True``, the
    head's strides are set from the features.

    Only samples that carry ``gt_instances`` train the detector (samples of
    an enhancement-only set have none). A batch without any still runs the
    head once and returns zero losses, so every parameter stays in the
    graph under DDP. Per-level loss lists are summed into one value per
    loss name.

    Exported, the head returns the mmdet head's raw outputs (per level
    ``<task>.<output>_<level>``, e.g. class scores and box deltas); box
    decoding and NMS stay outside the graph, as in mmdeploy's partitions.

    Args:
        task: The task (a built :class:`~mmsquad.tasks.BoxTask`, or a
            preset name).
        head: Config of the mmdet dense head (e.g. ``RetinaHead``).
        neck: Config of the mmdet neck (e.g. ``FPN``) or None.
        feature_channels: Channels of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        feature_strides: Strides of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        strides_from_features: Set the head's prior strides from the
            features' strides instead of checking them.
        init_cfg: Initialisation config.
    """

    takes_channels_last = False  # mmdet/mmseg code: contiguous tensors

    def __init__(self,
                 task: Union[str, BaseTask],
                 head: dict,
                 neck: Optional[dict] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 strides_from_features: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(task, feature_channels, feature_strides, init_cfg)
        require_box_task(self)
        if neck is not None:
            neck = dict(neck, in_channels=list(self.contract_channels(
                neck.get('in_channels'), self.feature_channels,
                'neck.in_channels')))
        self.neck = None if neck is None else MODELS.build(neck)
        neck_channels = getattr(self.neck, 'out_channels', None)
        if isinstance(neck_channels, int):  # one width for every level
            head = dict(head, in_channels=self.contract_channels(
                head.get('in_channels'), neck_channels, 'head.in_channels'))
        delivered = self._head_input_strides()
        if strides_from_features:
            if delivered is None:
                raise ValueError(
                    f'{self._name}: strides_from_features needs the '
                    'strides of the features: a backbone that advertises '
                    'out_strides')
            head = with_prior_strides(head, delivered)
        self.head = MODELS.build(head)
        predicts_without_loss_cls(self.head)
        self._check_prior_strides(delivered, head)

    @property
    def _name(self) -> str:
        return f'{type(self).__name__} of task {self.task.name!r}'

    def _head_input_strides(self) -> Optional[List[int]]:
        """Strides of the levels the mmdet head gets, or None when they
        cannot be known."""
        return neck_output_strides(self.neck, self.feature_strides,
                                   self.feature_channels)

    def _check_prior_strides(self, delivered: Optional[List[int]],
                             head: dict) -> None:
        """Raise when the head's prior strides differ from ``delivered``.

        Raises:
            ValueError: Naming both lists and the config key to change.
        """
        generator = getattr(self.head, 'prior_generator', None)
        priors = getattr(generator, 'strides', None)
        if priors is None or delivered is None:
            return
        priors = [tuple(s) if isinstance(s, (tuple, list)) else (s, s)
                  for s in priors]
        if priors == [(s, s) for s in delivered]:
            return
        raise ValueError(
            f'{self._name}: the head\'s prior strides '
            f'{[p[0] if p[0] == p[1] else p for p in priors]} differ from the '
            f'strides of the features it gets, {delivered}; set '
            f'{" and ".join(_stride_keys(head))} to {delivered}, or '
            'strides_from_features=True')

    def _neck(self, feats: Sequence[Tensor]) -> tuple:
        return tuple(feats) if self.neck is None else self.neck(list(feats))

    def forward(self, feats: Sequence[Tensor]) -> tuple:
        """Raw outputs of the mmdet head (per-level scores and boxes)."""
        return self.head(self._neck(feats))

    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """mmdet's losses on the samples with detection labels."""
        feats, samples, scale = labelled_for_detection(self.task, feats,
                                                       data_samples)
        start_epoch_outside_a_runner()
        return summed_losses(self.head.loss(self._neck(feats), samples),
                             scale, self)

    def export(self, feats: Sequence[Tensor],
               batch_shape: Sequence[int]) -> Dict[str, Tensor]:
        """The mmdet head's raw outputs, ``<task>.<output>_<level>``
        (``output`` 0 is usually the class scores, 1 the box regression)."""
        return {f'{self.task.name}.{i}_{level}': value
                for i, outputs in enumerate(self(feats))
                for level, value in enumerate(outputs)}

    def predict(self, feats: Sequence[Tensor],
                data_samples: List[MultiTaskDataSample],
                batch_shape: Sequence[int]) -> None:
        """Set mmdet's ``pred_instances`` (boxes in original image
        coordinates, scores, labels) on every sample.

        As mmdet's dense heads predict (``forward``, then
        ``predict_by_feat``), but the box decoding and NMS run in float32
        outside any autocast: mmcv's NMS refuses reduced-precision boxes.
        """
        outs = [[_float(o) for o in level] if isinstance(level, (list, tuple))
                else _float(level) for level in self(feats)]
        with_test_metainfo(data_samples)
        with torch.autocast(feats[0].device.type, enabled=False):
            results = self.head.predict_by_feat(
                *outs, batch_img_metas=[s.metainfo for s in data_samples],
                rescale=True)
        for sample, result in zip(data_samples, results):
            sample.pred_instances = result


def _float(value):
    """A floating tensor as float32; anything else unchanged."""
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.float()
    return value


def with_test_metainfo(data_samples: List[MultiTaskDataSample]) -> None:
    """Give the samples the test-time metainfo mmdet's heads read and
    mmsquad's dense-task pipelines do not record: ``scale_factor`` 1 (they
    do not resize at test time; mmdet rescales predicted boxes by it), and
    ``border`` (CenterNet's and CornerNet's offset of the image in the
    padded batch: top, bottom, left, right; the batch pads right and
    below)."""
    for sample in data_samples:
        if sample.metainfo.get('scale_factor') is None:
            sample.set_metainfo(dict(scale_factor=(1.0, 1.0)))
        if sample.metainfo.get('border') is None:
            h, w = sample.metainfo.get('img_shape', (0, 0))[:2]
            sample.set_metainfo(dict(border=(0, h, 0, w)))


def predicts_without_loss_cls(module: nn.Module) -> None:
    """Let dense heads without a ``loss_cls`` (SSD's: it computes its
    classification loss itself) predict: mmdet 3.3's
    ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls`` (for
    v3det's custom class channels) and raises for them
    (open-mmlab/mmdetection#11063). ``None`` means no custom channels, as
    the pending upstream fix (#11524) reads a missing one."""
    from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
    for head in module.modules():
        if isinstance(head, BaseDenseHead) and not hasattr(
                head, 'loss_cls'):
            head.loss_cls = None


def require_box_task(head: BaseTaskHead) -> None:
    """Raise ``TypeError`` when ``head``'s task is not a ``BoxTask``."""
    if not isinstance(head.task, BoxTask):
        raise TypeError(f'{type(head).__name__} predicts boxes; task '
                        f'{head.task!r} is not a BoxTask')


def labelled_for_detection(task: BoxTask, feats: Sequence[Tensor],
                           data_samples: List[MultiTaskDataSample]
                           ) -> Tuple[List[Tensor], list, float]:
    """The features and samples of the images labelled for ``task``, and
    the scale of their losses: 1, or 0 when no image is labelled, where the
    first image stands in with no boxes and no instance masks (for
    detectors that segment instances), so the detector runs (and every
    parameter stays in the graph under DDP) and its losses are zero (with
    the first image's :attr:`~mmsquad.tasks.BoxTask.input_fields`)."""
    labelled = [i for i, s in enumerate(data_samples) if task.has_target(s)]
    if labelled:
        samples, scale = [data_samples[i] for i in labelled], 1.0
    else:
        empty = MultiTaskDataSample(metainfo=data_samples[0].metainfo)
        BoxTask.carry_fields(data_samples[0], empty, labelled=False)
        height, width = empty.batch_input_shape
        empty.gt_instances = InstanceData(
            bboxes=feats[0].new_zeros((0, 4)),
            labels=torch.zeros(0, dtype=torch.long, device=feats[0].device),
            masks=BitmapMasks(np.zeros((0, height, width), np.uint8),
                              height, width))
        labelled, samples, scale = [0], [empty], 0.0
    if len(labelled) < len(data_samples):
        index = torch.tensor(labelled, device=feats[0].device)
        feats = [f.index_select(0, index) for f in feats]
    return list(feats), samples, scale


def summed_losses(losses: Dict[str, object], scale: float,
                  module: nn.Module) -> Dict[str, Tensor]:
    """mmdet's losses times ``scale``, each per-level list summed into one
    value. With ``scale`` 0 (no image labelled: the stand-in of
    :func:`labelled_for_detection`) every parameter of ``module`` joins
    the first loss with weight 0, so that DDP finds each used whatever
    branch a sample without boxes leaves out (CondInst's controller,
    SCNet's relay head, ...)."""
    summed = {name: scale * (sum(value) if isinstance(value, (list, tuple))
                             else value)
              for name, value in losses.items()}
    first = next((name for name in summed if 'loss' in name), None)
    if not scale and first is not None:
        summed[first] = summed[first] + 0 * sum(
            p[(0, ) * p.dim()] for p in module.parameters()
            if p.requires_grad and p.numel())
    return summed


def neck_output_strides(neck: Optional[nn.Module],
                        strides: Optional[Sequence[int]],
                        channels: Optional[Sequence[int]] = None
                        ) -> Optional[List[int]]:
    """The strides of what an mmdet neck returns for features of
    ``strides``: the same without a neck; through an FPN-like neck (its
    ``start_level``, ``backbone_end_level`` and ``num_outs``) or a
    ``ChannelMapper`` (its ``extra_convs``), every extra level doubles the
    stride; through any other neck, measured by running it once on zero
    features of the given ``channels`` (:func:`probe_neck_strides`). None
    when unknown (no strides, or another neck without ``channels``)."""
    if strides is None:
        return None
    if neck is None:
        return list(strides)
    if all(hasattr(neck, key) for key in
           ('start_level', 'backbone_end_level', 'num_outs')):
        delivered = list(strides[neck.start_level:neck.backbone_end_level])
        num_outs = neck.num_outs
    elif hasattr(neck, 'extra_convs') and hasattr(neck, 'convs'):
        delivered = list(strides[:len(neck.convs)])
        num_outs = len(delivered) + len(neck.extra_convs or ())
    elif channels is not None:
        return probe_neck_strides(neck, strides, channels)
    else:
        return None
    while len(delivered) < num_outs:
        delivered.append(delivered[-1] * 2)
    return delivered


def probe_neck_strides(neck: nn.Module, strides: Sequence[int],
                       channels: Sequence[int]) -> List[int]:
    """The strides of a neck's outputs, measured: the neck runs once (in
    eval mode, without gradients) on features of ``channels`` at
    ``strides`` of an image of :data:`TRIAL_SIZE` (at least 16 times the
    coarsest stride): on the meta device (shapes only), or on zeros where
    an operator has no meta implementation.

    Raises:
        ValueError: When the neck cannot run on such features, naming
            them and the neck's error.
    """
    size = max(TRIAL_SIZE, 16 * max(strides))
    training = neck.training
    try:
        outs = try_on_features(neck, channels, strides, size)
        if outs is None:
            neck.eval()
            with torch.no_grad():
                outs = neck([torch.zeros(1, c, size // s, size // s)
                             for c, s in zip(channels, strides)])
    except Exception as error:  # any failure means the neck cannot serve
        raise ValueError(
            f'the neck {type(neck).__name__} cannot run on the features '
            f'(channels {list(channels)}, strides {list(strides)}): '
            f'{error_text(error)}') from error
    finally:
        neck.train(training)
    return [round(size / out.shape[-1]) for out in outs]


def init_parameters(cls: type) -> Dict[str, object]:
    """The ``__init__`` parameters a class takes (name: default): its own,
    and its bases' as long as each ``__init__`` passes ``**kwargs`` on
    (GuidedAnchorHead takes no ``anchor_generator``, though AnchorHead
    does)."""
    found: Dict[str, object] = {}
    for klass in getattr(cls, '__mro__', ()):
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters
        for name, param in params.items():
            if name != 'self' and param.kind not in (param.VAR_POSITIONAL,
                                                     param.VAR_KEYWORD):
                found.setdefault(name, param.default)
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    return found


def prior_stride_args(head: dict) -> Dict[str, Optional[dict]]:
    """The arguments of an mmdet head config that set its prior strides:
    its prior generators (``anchor_generator``, ``prior_generator``,
    GuidedAnchorHead's ``approx_`` and ``square_anchor_generator``: their
    configs, given or the class's defaults) and its stride lists
    (``strides``, YOLOv3's ``featmap_strides``, RepPoints'
    ``point_strides``: None), for those the config gives or the class
    takes."""
    scope = head.get('_scope_')
    with MODELS.switch_scope_and_registry(scope) as registry:
        cls = registry.get(head['type']) if isinstance(head['type'], str) \
            else head['type']
    defaults = init_parameters(cls)
    args: Dict[str, Optional[dict]] = {}
    for key in [*defaults, *(k for k in head if k not in defaults)]:
        if key.endswith(('anchor_generator', 'prior_generator')):
            value = head.get(key, defaults.get(key))
            if isinstance(value, dict):
                args[key] = dict(value)
        elif key in ('strides', 'featmap_strides', 'point_strides'):
            args[key] = None
    return args


def _stride_keys(head: dict) -> List[str]:
    """The config keys of an mmdet head that set its prior strides."""
    return [f'head.{key}' if generator is None else f'head.{key}.strides'
            for key, generator in prior_stride_args(head).items()]


def with_prior_strides(head: dict, strides: List[int]) -> dict:
    """``head`` with every argument of :func:`prior_stride_args` set to
    ``strides``."""
    head = dict(head)
    for key, generator in prior_stride_args(head).items():
        head[key] = list(strides) if generator is None else dict(
            generator, strides=list(strides))
    return head


def start_epoch_outside_a_runner() -> None:
    """Record epoch 0 in the current message hub when nothing has recorded
    an epoch (outside a runner): heads that switch their assigner by epoch
    (TOOD) read it and would fail on None."""
    hub = MessageHub.get_current_instance()
    if hub.get_info('epoch') is None:
        hub.update_info('epoch', 0)

