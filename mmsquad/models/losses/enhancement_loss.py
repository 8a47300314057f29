"""Loss of the enhancement task: L1 + (1 - SSIM)."""
import torch
from pytorch_msssim import ssim
from torch import Tensor, nn

from mmsquad.registry import MODELS
from .dense_losses import zero_loss


@MODELS.register_module()
class L1SSIMLoss(nn.Module):
    """``l1_weight * L1 + ssim_weight * (1 - SSIM)`` between an enhanced
    image and its reference, both RGB in [0, 1]; SSIM from
    ``pytorch_msssim`` (Gaussian window 11, sigma 1.5, data range 1).

    Padding (target value < 0, bottom and right) is cropped per sample, so
    it never counts.

    ``pred``, ``target``: (N, 3, H, W).

    Args:
        l1_weight: Factor on the L1 term.
        ssim_weight: Factor on the SSIM term.
        loss_name: Name in the loss dict.
    """

    def __init__(self, l1_weight: float = 1.0, ssim_weight: float = 1.0,
                 loss_name: str = 'loss_l1_ssim') -> None:
        super().__init__()
        self.l1_weight = l1_weight
        self.ssim_weight = ssim_weight
        self.loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        terms = []
        for p, t in zip(pred, target):
            valid = (t >= 0).all(dim=0)
            rows = int(valid.any(dim=1).sum())
            cols = int(valid.any(dim=0).sum())
            if rows == 0 or cols == 0:
                continue
            p, t = p[None, :, :rows, :cols], t[None, :, :rows, :cols]
            l1 = (p - t).abs().mean()
            similarity = ssim(p.float(), t.float(), data_range=1.0,
                              size_average=True)
            terms.append(self.l1_weight * l1 +
                         self.ssim_weight * (1 - similarity))
        if not terms:
            return zero_loss(pred)
        return torch.stack(terms).mean()
