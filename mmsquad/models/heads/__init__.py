"""Task heads."""
from .aspp_head import ASPPTaskHead
from .base_dense_head import BaseDenseTaskHead
from .task_head_adapter import TaskHeadAdapter

__all__ = ['ASPPTaskHead', 'BaseDenseTaskHead', 'TaskHeadAdapter']
