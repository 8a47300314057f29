"""Losses."""
from .dense_losses import (BalancedBCELoss, MaskedL1Loss, NormalsL1Loss,
                           PixelCrossEntropyLoss, zero_loss)
from .enhancement_loss import L1SSIMLoss
from .seg_loss_adapter import SegLossAdapter, as_task_loss

__all__ = [
    'BalancedBCELoss', 'L1SSIMLoss', 'MaskedL1Loss', 'NormalsL1Loss',
    'PixelCrossEntropyLoss', 'SegLossAdapter', 'as_task_loss', 'zero_loss'
]
