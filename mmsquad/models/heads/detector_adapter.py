"""A whole mmdet detector (one-stage, two-stage, query-based) as the
detection task of a multi-task model."""
import copy
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask
from .base_task_head import BaseTaskHead
from .dense_head_adapter import (labelled_for_detection,
                                  neck_output_strides, prior_stride_args,
                                  require_box_task,
                                  start_epoch_outside_a_runner,
                                  summed_losses, with_prior_strides,
                                  with_scale_factors)

#: The parts of an mmdet detector config that are dense heads (with prior
#: strides), and the RoI extractors of its ``roi_head``.
DENSE_HEAD_KEYS = ('rpn_head', 'bbox_head')
ROI_EXTRACTOR_KEYS = ('bbox_roi_extractor', 'mask_roi_extractor')


class FeaturePassThrough(BaseModule):
    """The backbone of a hosted detector: returns the features it gets.
    (Not registered: the detector config names the class itself.)"""

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        return tuple(feats)


@MODELS.register_module()
class DetectorAdapter(BaseTaskHead):
    """Detect objects (a :class:`~mmsquad.tasks.BoxTask`) with a whole mmdet
    detector on the task's features: two-stage (Faster / Cascade R-CNN),
    query-based (DETR, Deformable DETR, DINO) or one-stage, from its own
    config, with its own ``train_cfg`` / ``test_cfg``.

    The detector's backbone becomes :class:`FeaturePassThrough` (the task's
    features are its input) and its data preprocessor is dropped (the
    multi-task model's normalises the images; boxes arrive in the batch's
    coordinates). Its neck takes as many feature levels as its config's
    ``in_channels`` lists (the backbone's ``out_indices``: one for DETR,
    four for an FPN detector), the deepest ones (all, where the features
    have fewer), so that every neck parameter gets a gradient; its ``in_channels`` are set to their
    advertised channels (the config's describe the backbone it no longer
    has). ``num_classes``, when given, replaces every ``num_classes`` of the
    detector config (80 in mmdet's COCO configs).

    Strides are checked as :class:`DenseHeadAdapter` checks them: the
    prior strides of the dense heads (the RPN's anchors, a one-stage
    head's) must equal the strides of the neck's outputs, and the RoI
    extractors' ``featmap_strides`` the first of them; a mismatch is an
    error naming both lists and the config keys, or with
    ``strides_from_features=True`` they are set from the features.

    As mmdet's detectors, the RPN of a two-stage detector learns class-
    agnostic targets. Only samples that carry ``gt_instances`` train the
    detector; a batch without any runs it on one image with no boxes and
    returns zero losses, so every parameter stays in the graph under DDP.
    Predictions are mmdet's ``pred_instances`` in original image
    coordinates, computed in float32. There is no export: the detectors'
    post-processing is not traceable.

    Args:
        task: The task (a built :class:`~mmsquad.tasks.BoxTask`, or a
            preset name).
        detector: Config of an mmdet detector, e.g. ``get_config(
            'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py').model``;
            its scope defaults to ``mmdet``.
        num_classes: The detector's number of classes, or None to keep the
            config's.
        feature_channels: Channels of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        feature_strides: Strides of every feature level (filled in by
            :class:`~mmsquad.models.MultiTaskModel`).
        strides_from_features: Set the detector's prior and RoI strides
            from the features' strides instead of checking them.
        init_cfg: Initialisation config.

    Example:
        >>> from mmengine.hub import get_config
        >>> det = dict(type='DetectorAdapter', num_classes=4,
        ...            strides_from_features=True, detector=get_config(
        ...     'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py').model)
    """

    def __init__(self,
                 task: Union[str, BaseTask],
                 detector: dict,
                 num_classes: Optional[int] = None,
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 strides_from_features: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(task, feature_channels, feature_strides, init_cfg)
        require_box_task(self)
        detector = _plain(detector)
        scope = detector.setdefault('_scope_', 'mmdet')
        self._refuse_unhostable(detector)
        self._refuse_own_preprocessing(detector.pop('data_preprocessor',
                                                    None), scope)
        detector['backbone'] = dict(type=FeaturePassThrough)
        if num_classes is not None:
            _replace_everywhere(detector, 'num_classes', num_classes)
        # A list of necks runs in sequence (FPN then DyHead): the first
        # takes the features.
        necks = detector.get('neck')
        necks = None if necks is None else list(necks) if isinstance(
            necks, (list, tuple)) else [necks]
        self.levels = self._neck_levels(necks and necks[0])
        if necks:
            channels = self.contract_channels(
                None, self._deepest(self.feature_channels),
                'detector.neck.in_channels')
            necks[0] = dict(necks[0], in_channels=_in_config_order(
                channels, necks[0].get('in_channels')))
            necks = [dict(n, _scope_=n.get('_scope_', scope)) for n in necks]
            detector['neck'] = necks if len(necks) > 1 else necks[0]
        delivered = self._delivered_strides(necks)
        if strides_from_features:
            if delivered is None:
                raise ValueError(
                    f'{self._name}: strides_from_features needs the strides '
                    'of the features: a backbone that advertises '
                    'out_strides')
            detector = _with_detector_strides(detector, delivered, scope)
        # mmdet's detectors read their configs by attribute.
        self.detector = MODELS.build(ConfigDict(detector))
        self._check_strides(delivered)

    @property
    def _name(self) -> str:
        return f'{type(self).__name__} of task {self.task.name!r}'

    def _refuse_unhostable(self, detector: dict) -> None:
        """Raise ``ValueError`` for a detector that needs more than the
        task's features and boxes: an RoI head without an RPN (Fast
        R-CNN's, fed proposals precomputed in the data), or an RoI head
        whose ``shared_head`` is a stage of the config's backbone (the C4
        detectors', made for that backbone's channels)."""
        roi_head = detector.get('roi_head') or {}
        if roi_head and not detector.get('rpn_head'):
            raise ValueError(
                f'{self._name}: the detector has an roi_head but no '
                'rpn_head; it takes proposals precomputed in its data '
                '(LoadProposals): not hosted')
        if roi_head.get('shared_head'):
            raise ValueError(
                f'{self._name}: roi_head.shared_head '
                f'({roi_head["shared_head"].get("type")}) is a stage of the '
                'backbone of the detector\'s config, made for its channels '
                '(a C4 detector): not hosted; use an FPN detector')

    def _refuse_own_preprocessing(self, preprocessor: Optional[dict],
                                  scope: str) -> None:
        """Raise ``ValueError`` for a data preprocessor that does more
        than mmdet's ``DetDataPreprocessor`` (normalising and padding,
        which the multi-task model's preprocessor does): BoxInst's, say,
        makes the masks its loss needs. Its ``batch_augments`` are logged
        as not applied."""
        if not preprocessor:
            return
        from mmdet.models.data_preprocessors import DetDataPreprocessor
        kind = preprocessor.get('type')
        if isinstance(kind, str):
            with MODELS.switch_scope_and_registry(
                    preprocessor.get('_scope_', scope)) as registry:
                kind = registry.get(kind)
        if kind is not None and kind is not DetDataPreprocessor:
            raise ValueError(
                f'{self._name}: the detector\'s data preprocessor '
                f'{kind.__name__} prepares more than normalised, padded '
                'images (the multi-task model\'s preprocessor gives only '
                'those), and the detector needs it: not hosted')
        for augment in preprocessor.get('batch_augments') or []:
            print_log(f'{self._name}: the detector\'s batch augmentation '
                      f'{augment.get("type")} is not applied (the '
                      'multi-task model\'s preprocessor prepares the batch '
                      'for every task)', logger='current')

    def _neck_levels(self, neck: Optional[dict]) -> Optional[int]:
        """How many feature levels the detector's neck takes: as many as
        its config lists (``in_channels``; an int: one), the deepest ones,
        or every level when the features have fewer; None (all) without a
        neck or a count."""
        wanted = None if neck is None else neck.get('in_channels')
        count = len(wanted) if isinstance(wanted, (list, tuple)) else \
            1 if isinstance(wanted, int) else None
        if count is None or self.feature_channels is None:
            return count
        return min(count, len(self.feature_channels))

    def _deepest(self, levels: Optional[Sequence]) -> Optional[list]:
        """The deepest :attr:`levels` entries of ``levels`` (all without a
        count)."""
        if levels is None or self.levels is None:
            return None if levels is None else list(levels)
        return list(levels)[-self.levels:]

    def _delivered_strides(self, necks: Optional[List[dict]]
                           ) -> Optional[List[int]]:
        """The strides of the levels the detector's heads get from its
        neck (several: in sequence).

        Raises:
            ValueError: When the neck cannot be built for the features,
                naming them and the neck's error.
        """
        try:
            built = None if not necks else MODELS.build(
                necks if len(necks) > 1 else necks[0])
        except (AssertionError, ValueError, TypeError, KeyError) as error:
            names = ' then '.join(str(n['type']) for n in necks)
            raise ValueError(
                f'{self._name}: the neck {names} cannot be built for the '
                f'features it gets (in_channels '
                f'{necks[0].get("in_channels")}, strides '
                f'{self._deepest(self.feature_strides)}): '
                f'{type(error).__name__}: {error}; its other channel '
                'settings describe the backbone of its config') from error
        return neck_output_strides(built,
                                   self._deepest(self.feature_strides),
                                   self._deepest(self.feature_channels))

    def _check_strides(self, delivered: Optional[List[int]]) -> None:
        """Raise when a dense head's prior strides or an RoI extractor's
        strides differ from the features' ``delivered``.

        Raises:
            ValueError: Naming both lists and the config keys to change.
        """
        if delivered is None:
            return
        for key, strides in _built_strides(self.detector):
            expected = delivered[:len(strides)] if 'featmap' in key \
                else delivered
            if list(strides) != expected:
                raise ValueError(
                    f'{self._name}: {key} {list(strides)} differ from the '
                    f'strides of the features it gets, {expected}; set '
                    f'{key} to {expected}, or strides_from_features=True')

    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """The detector's losses on the samples with detection labels."""
        feats, samples, scale = labelled_for_detection(
            self.task, self._deepest(feats), data_samples)
        start_epoch_outside_a_runner()
        return summed_losses(self.detector.loss(tuple(feats), samples),
                             scale)

    def predict(self, feats: Sequence[Tensor],
                data_samples: List[MultiTaskDataSample],
                batch_shape: Sequence[int]) -> None:
        """Set mmdet's ``pred_instances`` (boxes in original image
        coordinates, scores, labels) on every sample, in float32 (mmcv's
        NMS refuses reduced-precision boxes)."""
        feats = tuple(f.float() for f in self._deepest(feats))
        with_scale_factors(data_samples)
        with torch.autocast(feats[0].device.type, enabled=False):
            self.detector.predict(feats, data_samples, rescale=True)


def _plain(cfg: dict) -> dict:
    """A deep copy of ``cfg`` as plain dicts and lists."""
    if isinstance(cfg, ConfigDict):
        cfg = cfg.to_dict()
    return copy.deepcopy(dict(cfg))


def _in_config_order(channels: List[int],
                     configured: Union[int, Sequence[int], None]
                     ) -> Union[int, List[int]]:
    """The features' ``channels`` (shallowest first) as a neck config
    gives its ``in_channels``: one int (the deepest), or a list, deepest
    first where the config's decreases (YOLOv3's neck counts its inputs
    from the deepest)."""
    if isinstance(configured, int):
        return channels[-1]
    if isinstance(configured, (list, tuple)) and len(configured) > 1 and \
            all(a > b for a, b in zip(configured, configured[1:])):
        return list(reversed(channels))
    return list(channels)


def _replace_everywhere(cfg: Union[dict, list], key: str, value) -> None:
    """Set ``key`` to ``value`` in every dict nested in ``cfg`` that has
    it, logging the values it replaces."""
    items = cfg.values() if isinstance(cfg, dict) else cfg
    if isinstance(cfg, dict) and key in cfg and cfg[key] != value:
        print_log(f'DetectorAdapter: {cfg.get("type")} {key} '
                  f'{cfg[key]} -> {value}', logger='current')
        cfg[key] = value
    for item in items:
        if isinstance(item, (dict, list)):
            _replace_everywhere(item, key, value)


def _with_detector_strides(detector: dict, strides: List[int],
                           scope: str) -> dict:
    """``detector`` with its dense heads' prior strides set to ``strides``
    and its RoI extractors' to as many of them as they take."""
    for key in DENSE_HEAD_KEYS:
        if isinstance(detector.get(key), dict):
            head = dict(detector[key])
            head.setdefault('_scope_', scope)
            detector[key] = with_prior_strides(head, strides)
    roi_head = detector.get('roi_head') or {}
    for key in ROI_EXTRACTOR_KEYS:
        extractors = roi_head.get(key)
        for extractor in (extractors if isinstance(extractors, list)
                          else [extractors] if extractors else []):
            count = len(extractor['featmap_strides'])
            extractor['featmap_strides'] = list(strides[:count])
    return detector


def _built_strides(detector: torch.nn.Module
                   ) -> Iterator[Tuple[str, List[int]]]:
    """``(config key, strides)`` of every dense head's prior generator and
    every RoI extractor of a built detector."""
    for key in DENSE_HEAD_KEYS:
        generator = getattr(getattr(detector, key, None), 'prior_generator',
                            None)
        if generator is not None:
            args = _prior_stride_args_of(getattr(detector, key))
            yield (f'detector.{key}.{args}',
                   [s[0] if isinstance(s, (tuple, list)) else s
                    for s in generator.strides])
    roi_head = getattr(detector, 'roi_head', None)
    for key in ROI_EXTRACTOR_KEYS:
        extractors = getattr(roi_head, key, None)
        if extractors is None:
            continue
        for extractor in (extractors if isinstance(extractors,
                                                   torch.nn.ModuleList)
                          else [extractors]):
            yield (f'detector.roi_head.{key}.featmap_strides',
                   list(extractor.featmap_strides))


def _prior_stride_args_of(head: torch.nn.Module) -> str:
    """The config key that sets a built dense head's prior strides."""
    keys = prior_stride_args(dict(type=type(head)))
    return next((f'{key}.strides' for key, generator in keys.items()
                 if generator is not None), 'strides')
