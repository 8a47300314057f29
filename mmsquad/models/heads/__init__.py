"""Task heads: mmsquad's own, and adapters that host another package's
(mmseg's decode heads, mmdet's dense heads and whole detectors)."""
from .aspp_head import ASPPTaskHead
from .base_dense_task_head import BaseDenseTaskHead, dense_task_losses
from .base_task_head import BaseTaskHead
from .decode_head_adapter import DecodeHeadAdapter
from .dense_head_adapter import DenseHeadAdapter
from .detector_adapter import DetectorAdapter
from .enhancement_head import EnhancementHead
from .linear_cls_head import LinearClsTaskHead
from .residual_head import ResidualTaskHead

__all__ = [
    'ASPPTaskHead', 'BaseDenseTaskHead', 'BaseTaskHead', 'DecodeHeadAdapter',
    'DenseHeadAdapter', 'DetectorAdapter', 'EnhancementHead',
    'LinearClsTaskHead', 'ResidualTaskHead', 'dense_task_losses'
]
