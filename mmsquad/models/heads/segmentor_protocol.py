"""Decode heads that compute their own losses, called as mmseg's
segmentors call them.

mmseg's ``EncoderDecoder`` trains a decode head through ``head.loss(x,
data_samples, train_cfg)`` and predicts through ``head.predict(x,
img_metas, test_cfg)``; ``CascadeEncoderDecoder`` passes each stage the
previous stage's output. Heads whose loss is their own (DANet's three
outputs, EncNet's SE loss, STDC's boundary loss, the set-prediction losses
of Mask2Former and MaskFormer, PointRend's point losses) can only be
trained that way; :class:`~mmsquad.models.DecodeHeadAdapter` hosts them
through these functions, with the task's class map as ``gt_sem_seg``.
"""
import inspect
from typing import Dict, List, Optional, Sequence, Set

from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.structures import SegDataSample
from torch import Tensor, nn

def forward_needs(kind: type) -> List[str]:
    """The arguments of ``kind.forward`` besides the features that have no
    default."""
    return [name for name, p in list(inspect.signature(
        kind.forward).parameters.items())[2:]
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL,
                                                   p.VAR_KEYWORD)]


def own_loss(kind: type) -> Optional[str]:
    """``loss`` or ``loss_by_feat`` where ``kind`` defines one below
    mmseg's ``BaseDecodeHead`` (whose per-pixel losses mmsquad carries out
    itself), else None."""
    for base in kind.__mro__:
        if base is nn.Module or base is BaseDecodeHead:
            return None
        for name in ('loss', 'loss_by_feat'):
            if name in vars(base):
                return name
    return None


def trains_itself(kind: type) -> bool:
    """Whether a head class must be trained through its own ``loss``: it
    defines one, or its ``forward`` takes more than the features."""
    return bool(own_loss(kind) or forward_needs(kind))


def refines(kind: type) -> bool:
    """Whether a head class can be a later stage of a cascade: its
    ``loss`` takes the previous stage's output (``prev_output``)."""
    return 'prev_output' in inspect.signature(kind.loss).parameters


def selects_levels(kind: type) -> bool:
    """Whether an mmseg decode head reads the feature levels its
    ``in_index`` selects (``BaseDecodeHead._transform_inputs``, called by
    its ``forward``, ``loss`` or ``predict`` directly or through its other
    methods). DDRNet's and PIDNet's heads do
    not: they unpack their own backbone's outputs. True for heads that are
    not mmseg decode heads (they read every level)."""
    if not issubclass(kind, BaseDecodeHead):
        return True
    seen: Set[str] = set()
    pending = ['forward', 'loss', 'predict']
    while pending:
        name = pending.pop()
        if name == '_transform_inputs':
            return True
        method = getattr(kind, name, None)
        if name in seen or not inspect.isfunction(method):
            continue
        seen.add(name)
        pending += list(method.__code__.co_names)
    return False


def seg_samples(targets: Sequence[Tensor], batch_shape: Sequence[int]
                ) -> List[SegDataSample]:
    """mmseg data samples of class maps ``targets`` (each (1, H, W), at
    the padded batch size ``batch_shape``, or None for prediction)."""
    samples = []
    for target in targets:
        sample = SegDataSample(metainfo=dict(
            img_shape=tuple(batch_shape), pad_shape=tuple(batch_shape),
            ori_shape=tuple(batch_shape)))
        if target is not None:
            sample.gt_sem_seg = PixelData(data=target.long())
        samples.append(sample)
    return samples


def as_cfg(cfg: Optional[dict]) -> ConfigDict:
    """A segmentor's ``train_cfg`` / ``test_cfg`` as its heads read it
    (attribute access; empty when not given)."""
    return ConfigDict(cfg or {})


def stage_losses(stages: Sequence[nn.Module], feats: List[Tensor],
                 samples: List[SegDataSample],
                 train_cfg: ConfigDict) -> Dict[str, Tensor]:
    """The losses of one head (``stages`` of one) or of a cascade, as
    ``EncoderDecoder`` and ``CascadeEncoderDecoder`` compute them; a
    cascade's keyed ``decode_<i>.<name>``."""
    if len(stages) == 1:
        return stages[0].loss(feats, samples, train_cfg)
    losses = {}
    previous = None
    for i, stage in enumerate(stages):
        args = (feats, ) if i == 0 else (feats, previous)
        losses.update({f'decode_{i}.{name}': value for name, value in
                       stage.loss(*args, samples, train_cfg).items()})
        if i < len(stages) - 1:
            previous = stage(*args)
    return losses


def stage_logits(stages: Sequence[nn.Module], feats: List[Tensor],
                 batch_shape: Sequence[int],
                 test_cfg: ConfigDict) -> Tensor:
    """The logits the last stage predicts at ``batch_shape``, as
    ``EncoderDecoder.encode_decode`` (and its cascade) makes them."""
    metas = [s.metainfo for s in seg_samples([None] * len(feats[0]),
                                             batch_shape)]
    previous = None
    for i, stage in enumerate(stages[:-1]):
        previous = stage(feats) if i == 0 else stage(feats, previous)
    args = (feats, ) if previous is None else (feats, previous)
    return stages[-1].predict(*args, metas, test_cfg)
