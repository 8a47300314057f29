"""Losses."""
from .dense_losses import (BalancedBCELoss, MaskedL1Loss, NormalsL1Loss,
                           PixelCrossEntropyLoss, zero_loss)
from .enhancement_loss import L1SSIMLoss

__all__ = [
    'BalancedBCELoss', 'L1SSIMLoss', 'MaskedL1Loss', 'NormalsL1Loss',
    'PixelCrossEntropyLoss', 'zero_loss'
]
