"""Losses."""
from .dense_losses import (BalancedBCELoss, MaskedL1Loss, NormalsL1Loss,
                           PixelCrossEntropyLoss, zero_loss)

__all__ = [
    'BalancedBCELoss', 'MaskedL1Loss', 'NormalsL1Loss',
    'PixelCrossEntropyLoss', 'zero_loss'
]
