"""A whole mmdet detector (one-stage, two-stage, query-based) as the
detection task of a multi-task model."""
import copy
import inspect
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.models.roi_heads.shared_heads import ResLayer
from mmengine.config import ConfigDict
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.structures import PixelData
from torch import Tensor

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, BoxTask
from ..utils.contracts import error_text
from ..utils.feature_probe import TRIAL_SIZE, try_on_features
from .base_task_head import BaseTaskHead
from .dense_head_adapter import (labelled_for_detection,
                                  neck_output_strides,
                                  predicts_without_loss_cls, prior_stride_args,
                                  require_box_task,
                                  start_epoch_outside_a_runner,
                                  summed_losses, with_prior_strides,
                                  with_test_metainfo)
from .res_layer_on_features import ResLayerOnFeatures

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

    takes_channels_last = False  # mmdet/mmseg code: contiguous tensors

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
        self._refuse_missing_torchvision(detector)
        #: Whether the detector reads proposals precomputed in the data
        #: (an RoI head without an RPN: Fast R-CNN).
        self.reads_proposals = bool(detector.get('roi_head')) and not \
            detector.get('rpn_head')
        #: The key of the detector's head that trains on semantic maps
        #: (HTC's, SCNet's ``semantic_head``), or None.
        self.semantic_head_key = next(
            (key for key, item in _config_items(detector)
             if key == 'semantic_head' and item), None)
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
        if not necks and self.feature_channels is not None:
            self._stacks_read(detector)
        self.levels = self._levels_read(necks[0] if necks else
                                        _reading_heads(detector))
        if necks:
            channels = self.contract_channels(
                None, self._deepest(self.feature_channels),
                'detector.neck.in_channels')
            necks[0] = self._neck_reads_features(necks[0], channels,
                                                 detector)
            necks = [dict(n, _scope_=n.get('_scope_', scope)) for n in necks]
            detector['neck'] = necks if len(necks) > 1 else necks[0]
        elif self.feature_channels is not None:
            self._heads_read_features(detector)
        if detector.get('roi_head') and self.feature_channels is not None:
            self._roi_head_reads_features(detector['roi_head'], bool(necks),
                                          scope)
        delivered = self._delivered_strides(necks)
        if strides_from_features:
            if delivered is None:
                raise ValueError(
                    f'{self._name}: strides_from_features needs the strides '
                    'of the features: a backbone that advertises '
                    'out_strides')
            detector = _with_detector_strides(detector, delivered, scope)
        try:  # mmdet's detectors read their configs by attribute
            self.detector = MODELS.build(ConfigDict(detector))
        except AttributeError as error:
            if FeaturePassThrough.__name__ not in str(error):
                raise
            raise ValueError(
                f'{self._name}: {detector["type"]} reads its own backbone '
                f'({error_text(error)}; TridentNet\'s: the branches of its '
                'TridentResNet), which the task\'s features replace: not '
                'hosted') from error
        predicts_without_loss_cls(self.detector)
        self._check_strides(delivered)
        self._refuse_unclipped_masks_on_cpu()

    @property
    def _name(self) -> str:
        return f'{type(self).__name__} of task {self.task.name!r}'

    def _refuse_unhostable(self, detector: dict) -> None:
        """Raise ``ValueError`` for a detector that needs more than the
        task's features and boxes: one that takes no backbone (a wrapper
        of another framework's model), one that distils from a teacher
        detector (which runs on the images), a panoptic segmentor (a
        head with stuff classes: it predicts no boxes)."""
        kind = detector['type']
        if isinstance(kind, str):
            with MODELS.switch_scope_and_registry(
                    detector['_scope_']) as registry:
                kind = registry.get(kind)
        if kind is not None:
            takes = inspect.signature(kind.__init__).parameters
            if 'backbone' not in takes and not any(
                    p.kind is p.VAR_KEYWORD for p in takes.values()):
                raise ValueError(
                    f'{self._name}: {kind.__name__} takes no backbone (it '
                    'wraps a model of another framework): not hosted')
            teacher = [name for name in takes if name.startswith('teacher')]
            if teacher:
                raise ValueError(
                    f'{self._name}: {kind.__name__} distils from a teacher '
                    f'detector ({", ".join(teacher)}) that runs on the '
                    'images, not on the task\'s features: not hosted')
        panoptic = [key for key, item in _config_items(detector)
                    if isinstance(item, dict) and item.get(
                        'num_stuff_classes')]
        if panoptic:
            raise ValueError(
                f'{self._name}: the detector is a panoptic segmentor (its '
                f'{panoptic[0]} has stuff classes): it predicts panoptic '
                'maps, not the boxes of a box task: not hosted')

    def _refuse_missing_torchvision(self, detector: dict) -> None:
        """Raise ``ValueError`` when a part of the detector asks for
        torchvision's ops (``use_torchvision=True``: CrowdDet's RoIAlign)
        and torchvision cannot be imported (mmcv would fail at the first
        iteration)."""
        wants = [key for key, item in _config_items(detector)
                 if isinstance(item, dict) and item.get('use_torchvision')]
        if not wants:
            return
        try:
            import torchvision.ops  # noqa: F401
        except Exception as error:  # absent, or a wheel built for CUDA
            raise ValueError(
                f'{self._name}: its {wants[0]} asks for torchvision\'s ops '
                '(use_torchvision=True), and torchvision cannot be imported '
                f'here ({error_text(error)}): install it, or set '
                'use_torchvision=False') from error

    def _refuse_unclipped_masks_on_cpu(self) -> None:
        """Raise ``ValueError`` where no accelerator is for a detector
        whose masks mmdet's ``FCNMaskHead`` pastes behind a box coder that
        does not clip to the image (QueryInst's): on the CPU mmdet pastes
        each box alone within its extent (``_do_paste_mask`` with
        ``skip_empty``), and a box wholly outside the image fails there
        (``torch.arange`` with reversed bounds) at a prediction."""
        if get_device() != 'cpu' or not any(
                isinstance(m, FCNMaskHead) for m in self.detector.modules()):
            return
        unclipped = [
            name for name, m in self.detector.named_modules()
            if getattr(getattr(m, 'bbox_coder', None), 'clip_border',
                       True) is False]
        if unclipped:
            raise ValueError(
                f'{self._name}: {unclipped[0]}.bbox_coder does not clip '
                'boxes to the image (clip_border=False), and mmdet pastes '
                'masks on the CPU in a way that fails on a box wholly '
                'outside the image; this machine has no GPU: set '
                'clip_border=True, or train where a GPU is available')

    def _neck_reads_features(self, neck: dict, channels: List[int],
                             detector: dict) -> dict:
        """``neck`` with ``in_channels`` the features' ``channels``; a
        neck that passes its inputs on (SSD's: ``out_channels`` begin with
        its ``in_channels``) gets them at the start of its
        ``out_channels``, and the heads that read its outputs get those
        (logged)."""
        configured = neck.get('in_channels')
        found = _in_config_order(channels, configured)
        neck = dict(neck, in_channels=found)
        out = neck.get('out_channels')
        if isinstance(out, (list, tuple)) and isinstance(
                configured, (list, tuple)) and list(
                    out[:len(configured)]) == list(configured):
            passed = list(found) + list(out[len(configured):])
            print_log(f'{self._name}: neck.out_channels {list(out)} -> '
                      f'{passed} (it passes its inputs on)',
                      logger='current')
            neck['out_channels'] = passed
            for head in _reading_heads(detector).values():
                if list(head['in_channels']) == list(out):
                    head['in_channels'] = passed
        return neck

    def _stacks_read(self, detector: dict) -> None:
        """A head that reads ``num_feat_levels`` levels of one
        ``in_channels`` (CornerNet's: the stacks of its Hourglass
        backbone) reads the deepest levels that share the deepest level's
        channels, at most its config's count (logged)."""
        channels = list(self.feature_channels)
        same = next((i for i, c in enumerate(reversed(channels))
                     if c != channels[-1]), len(channels))
        for key, head in _reading_heads(detector).items():
            configured = head.get('num_feat_levels')
            if isinstance(configured, int) and isinstance(
                    head['in_channels'], int) and configured > same:
                print_log(f'{self._name}: {key}.num_feat_levels '
                          f'{configured} -> {same} (the deepest levels of '
                          f'{channels[-1]} channels)', logger='current')
                head['num_feat_levels'] = same

    def _heads_read_features(self, detector: dict) -> None:
        """Without a neck the detector's heads read the features: their
        ``in_channels`` (the config's describe its backbone) become the
        channels of the levels they get (logged)."""
        channels = self._deepest(self.feature_channels)
        for key, head in _reading_heads(detector).items():
            configured = head['in_channels']
            found = _in_config_order(channels, configured)
            if found != configured:
                print_log(f'{self._name}: {key}.in_channels {configured} -> '
                          f'{found} (no neck: the head reads the features)',
                          logger='current')
            head['in_channels'] = found

    def _roi_head_reads_features(self, roi_head: dict, has_neck: bool,
                                 scope: str) -> None:
        """Without a neck the RoI extractors read the features: their
        ``out_channels`` become the channels of the levels they pool (one
        count). A ``shared_head`` (a C4 detector's fifth ResNet stage, run
        on every RoI) reads what the extractors give: mmdet's
        ``ResLayer`` becomes :class:`ResLayerOnFeatures` on those channels
        (logged).

        Raises:
            ValueError: When an extractor would pool levels of different
                channels, or the shared head is not mmdet's ``ResLayer``
                (its input channels cannot be set) or its extractors
                give different channels, naming the key.
        """
        given = set()  # the channels the extractors give
        for key in ROI_EXTRACTOR_KEYS:
            extractors = roi_head.get(key)
            for extractor in (extractors if isinstance(extractors, list)
                              else [extractors] if extractors else []):
                if has_neck:
                    given.add(extractor.get('out_channels'))
                    continue
                pooled = self._deepest(self.feature_channels)[:len(
                    extractor['featmap_strides'])]
                if len(set(pooled)) > 1:
                    raise ValueError(
                        f'{self._name}: roi_head.{key} pools levels of '
                        f'{pooled} channels (no neck: the features\'); '
                        'an RoI extractor needs one count: add a neck')
                if extractor.get('out_channels') != pooled[0]:
                    print_log(f'{self._name}: roi_head.{key}.out_channels '
                              f'{extractor.get("out_channels")} -> '
                              f'{pooled[0]} (no neck: it pools the '
                              'features)', logger='current')
                extractor['out_channels'] = pooled[0]
                given.add(pooled[0])
        shared = roi_head.get('shared_head')
        if not shared:
            return
        kind = shared['type']
        if isinstance(kind, str):
            with MODELS.switch_scope_and_registry(
                    shared.get('_scope_', scope)) as registry:
                kind = registry.get(kind)
        if kind is not ResLayer or len(given) != 1:
            raise ValueError(
                f'{self._name}: roi_head.shared_head {shared["type"]} '
                'reads RoI features of channels fixed by its config (its '
                'detector\'s backbone), or its RoI extractors give '
                f'{sorted(given, key=str)} channels: not hosted; mmdet\'s '
                'ResLayer after extractors of one channel count is')
        channels = given.pop()
        print_log(f'{self._name}: roi_head.shared_head ResLayer -> '
                  f'ResLayerOnFeatures(in_channels={channels}) (it reads '
                  'the RoI features, not its config\'s backbone)',
                  logger='current')
        roi_head['shared_head'] = dict(
            {k: v for k, v in shared.items() if k != '_scope_'},
            type=ResLayerOnFeatures, in_channels=channels)

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

    def _levels_read(self, reader: Union[dict, Dict[str, dict], None]
                     ) -> Optional[int]:
        """How many feature levels the detector's neck (or, without one,
        its heads: ``{key: head config}``) takes: as many as its config
        lists (``in_channels``; an int: one, or ``num_feat_levels``), the
        deepest ones, or every
        level when the features have fewer; None (all) without a count."""
        readers = [] if reader is None else list(reader.values()) \
            if 'type' not in reader else [reader]
        counts = [r.get('num_feat_levels') or (
            len(c) if isinstance(c, (list, tuple)) else 1)
            for r, c in ((r, r.get('in_channels')) for r in readers)
            if isinstance(c, (int, list, tuple))]
        count = max(counts) if counts else None
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
            ValueError: When the neck cannot be built for the features
                or fails on them (tried on meta-device features, see
                :func:`~mmsquad.models.utils.feature_probe.try_on_features`),
                naming them and the neck's error.
        """
        strides = self._deepest(self.feature_strides)
        try:
            built = None if not necks else MODELS.build(
                necks if len(necks) > 1 else necks[0])
            if built is not None and strides is not None:
                try_on_features(built, self._deepest(self.feature_channels),
                                strides)
        except (AssertionError, ValueError, TypeError, KeyError,
                IndexError, RuntimeError) as error:
            names = ' then '.join(str(n['type']) for n in necks)
            raise ValueError(
                f'{self._name}: the neck {names} cannot be built for the '
                f'features it gets or fails on them (in_channels '
                f'{necks[0].get("in_channels")}, strides {strides}, tried '
                f'at {TRIAL_SIZE} px): {error_text(error)}; its other '
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
        for key, strides, expected in _built_strides(self.detector,
                                                     delivered):
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
        if self.semantic_head_key:
            self._stand_in_semantic_map(samples, scale)
        self._require_fields(samples, self.needed_fields)
        start_epoch_outside_a_runner()
        return summed_losses(self.detector.loss(tuple(feats), samples),
                             scale, self)

    def _stand_in_semantic_map(self, samples: list, scale: float) -> None:
        """Give the stand-in sample of a batch without boxes (``scale``
        0) a map of ignored pixels."""
        if not scale:
            shape = samples[0].batch_input_shape
            samples[0].gt_sem_seg = PixelData(sem_seg=torch.full(
                (1, *shape), BoxTask.semantic_ignore_index,
                dtype=torch.uint8))

    def _require_fields(self, samples: list, needed: Dict[str, str]) -> None:
        """Raise ``ValueError`` naming the first sample without one of the
        ``needed`` fields (``{field: why}``), and how to load it."""
        for field, why in needed.items():
            missing = [s.metainfo.get('img_path', '?') for s in samples
                       if field not in s]
            if missing:
                raise ValueError(f'{self._name}: {missing[0]} carries no '
                                 f'{field}: {why}')

    @property
    def needed_fields(self) -> Dict[str, str]:
        """mmdet's semantic map where the detector has a semantic head;
        its precomputed proposals where it has an RoI head but no RPN."""
        needed = {}
        if self.semantic_head_key:
            needed['gt_sem_seg'] = (
                f'the detector\'s {self.semantic_head_key} trains on '
                'semantic maps; load them with mmdet\'s LoadAnnotations('
                'with_seg=True) and the dataset\'s data_prefix=dict(seg=...)')
        return dict(needed, **self.needed_fields_to_predict)

    @property
    def needed_fields_to_predict(self) -> Dict[str, str]:
        """The precomputed proposals where the detector has an RoI head
        but no RPN."""
        if not self.reads_proposals:
            return {}
        return dict(proposals=(
            'the detector\'s roi_head reads proposals precomputed in the '
            'data (it has no rpn_head); load them with mmdet\'s '
            'LoadProposals and the dataset\'s proposal_file, and wrap the '
            'geometric transforms in mmdet\'s ProposalBroadcaster'))

    def predict(self, feats: Sequence[Tensor],
                data_samples: List[MultiTaskDataSample],
                batch_shape: Sequence[int]) -> None:
        """Set mmdet's ``pred_instances`` (boxes in original image
        coordinates, scores, labels) on every sample, in float32 (mmcv's
        NMS refuses reduced-precision boxes)."""
        self._require_fields(data_samples, self.needed_fields_to_predict)
        feats = tuple(f.float() for f in self._deepest(feats))
        with_test_metainfo(data_samples)
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


def _reading_heads(detector: dict) -> Dict[str, dict]:
    """``{key: config}`` of the detector's top-level heads that give
    ``in_channels`` (``bbox_head``, ``rpn_head``, ``panoptic_head``)."""
    return {key: head for key, head in detector.items()
            if key.endswith('head') and isinstance(head, dict)
            and 'in_channels' in head}


def _config_items(cfg: Union[dict, list]) -> Iterator[Tuple[str, object]]:
    """``(key, value)`` of every dict nested in ``cfg``."""
    items = cfg.items() if isinstance(cfg, dict) else ((None, i) for i in cfg)
    for key, item in items:
        if key is not None:
            yield key, item
        if isinstance(item, (dict, list)):
            yield from _config_items(item)


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
    """``detector`` with its dense heads' prior strides set to ``strides``,
    a mask branch's ``mask_stride`` to the stride of its ``start_level``,
    a semantic head's ``seg_scale_factor`` to 1 / the stride of its
    ``fusion_level``, and its RoI extractors' strides to as many of them
    as they take."""
    for key in DENSE_HEAD_KEYS:
        if isinstance(detector.get(key), dict):
            head = dict(detector[key])
            head.setdefault('_scope_', scope)
            detector[key] = with_prior_strides(head, strides)
    for _, item in _config_items(detector):
        if isinstance(item, dict) and 'mask_stride' in item:
            # CondInst's mask branch reads the level at its start_level.
            item['mask_stride'] = strides[item.get('start_level', 0)]
        if isinstance(item, dict) and 'fusion_level' in item:
            # HTC's semantic head predicts at its fusion level's stride.
            item['seg_scale_factor'] = 1 / strides[item['fusion_level']]
    roi_head = detector.get('roi_head') or {}
    for key in ROI_EXTRACTOR_KEYS:
        extractors = roi_head.get(key)
        for extractor in (extractors if isinstance(extractors, list)
                          else [extractors] if extractors else []):
            count = len(extractor['featmap_strides'])
            extractor['featmap_strides'] = list(strides[:count])
    return detector


def _built_strides(detector: torch.nn.Module, delivered: List[int]
                   ) -> Iterator[Tuple[str, List[int], List[int]]]:
    """``(config key, strides, expected)`` of every dense head's prior
    generator, every RoI extractor, a semantic head (HTC's) and every
    mask branch (CondInst's) of a
    built detector, with the strides of the ``delivered`` features each
    should have."""
    for key in DENSE_HEAD_KEYS:
        generator = getattr(getattr(detector, key, None), 'prior_generator',
                            None)
        if generator is not None:
            args = _prior_stride_args_of(getattr(detector, key))
            yield (f'detector.{key}.{args}',
                   [s[0] if isinstance(s, (tuple, list)) else s
                    for s in generator.strides], delivered)
    roi_head = getattr(detector, 'roi_head', None)
    for key in ROI_EXTRACTOR_KEYS:
        extractors = getattr(roi_head, key, None)
        if extractors is None:
            continue
        for extractor in (extractors if isinstance(extractors,
                                                   torch.nn.ModuleList)
                          else [extractors]):
            strides = list(extractor.featmap_strides)
            yield (f'detector.roi_head.{key}.featmap_strides', strides,
                   delivered[:len(strides)])
    semantic = getattr(roi_head, 'semantic_head', None)
    if hasattr(semantic, 'seg_scale_factor'):
        yield ('detector.roi_head.semantic_head.seg_scale_factor (1 / '
               'stride)', [round(1 / semantic.seg_scale_factor)],
               [delivered[semantic.fusion_level]])
    for name, module in detector.named_modules():
        branch = getattr(module, 'mask_feature_head', None)
        if branch is not None and hasattr(module, 'mask_feat_stride'):
            yield (f'detector.{name}.mask_feature_head.mask_stride',
                   [module.mask_feat_stride],
                   [delivered[getattr(branch, 'start_level', 0)]])


def _prior_stride_args_of(head: torch.nn.Module) -> str:
    """The config key that sets a built dense head's prior strides."""
    keys = prior_stride_args(dict(type=type(head)))
    return next((f'{key}.strides' for key, generator in keys.items()
                 if generator is not None), 'strides')
