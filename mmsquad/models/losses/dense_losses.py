"""Losses of the dense tasks; every one skips ignored target pixels."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.tasks import IGNORE_INDEX


class _DenseLoss(nn.Module):
    """Common arguments of the dense losses.

    Args:
        loss_weight: Factor on the loss.
        ignore_index: Target value of pixels that do not count.
        loss_name: Name used in the loss dict (``loss_<...>``).
    """

    def __init__(self, loss_weight: float = 1.0,
                 ignore_index: int = IGNORE_INDEX,
                 loss_name: str = 'loss') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self.loss_name = loss_name


def zero_loss(pred: Tensor) -> Tensor:
    """A zero that keeps every parameter behind ``pred`` in the graph, so
    that DDP sees no unused parameters when a batch has nothing to learn."""
    return (pred * 0).sum()


def masked_l1(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``|pred - target|`` over the elements where ``valid`` holds.

    A masked sum rather than ``pred[valid]``: boolean indexing costs a
    nonzero and two gathers per call on full-size maps. The difference is
    masked before ``abs``, so ignored elements get an exact zero gradient
    whatever their values.
    """
    diff = torch.where(valid, pred - target, 0)
    return diff.abs().sum() / valid.sum()


@MODELS.register_module()
class PixelCrossEntropyLoss(_DenseLoss):
    """Cross-entropy over class logits, averaged over labelled pixels.

    ``pred``: (N, K, H, W) logits; ``target``: (N, 1, H, W) class indices.
    """

    def __init__(self, loss_weight: float = 1.0,
                 ignore_index: int = IGNORE_INDEX,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__(loss_weight, ignore_index, loss_name)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        target = target[:, 0].long()
        if not (target != self.ignore_index).any():
            return zero_loss(pred)
        return self.loss_weight * F.cross_entropy(
            pred, target, ignore_index=self.ignore_index)


@MODELS.register_module()
class BalancedBCELoss(_DenseLoss):
    """Class-balanced binary cross-entropy (saliency, edges).

    Positives are weighted by ``w`` and negatives by ``1 - w``; ``w`` is the
    fraction of negatives among the labelled pixels of the batch unless
    ``pos_weight`` fixes it (0.95 for edges). The sum is divided by the
    number of labelled pixels.

    ``pred``: (N, 1, H, W) logits; ``target``: (N, 1, H, W) in {0, 1}.
    """

    def __init__(self, pos_weight: Optional[float] = None,
                 loss_weight: float = 1.0,
                 ignore_index: int = IGNORE_INDEX,
                 loss_name: str = 'loss_bce') -> None:
        super().__init__(loss_weight, ignore_index, loss_name)
        self.pos_weight = pos_weight

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        valid = target != self.ignore_index
        num_valid = valid.sum()
        if num_valid == 0:
            return zero_loss(pred)
        label = (target == 1).to(pred.dtype)
        valid = valid.to(pred.dtype)
        if self.pos_weight is None:
            w = ((1 - label) * valid).sum() / num_valid
        else:
            w = torch.as_tensor(self.pos_weight, dtype=pred.dtype,
                                device=pred.device)
        loss_pos = -(label * valid * F.logsigmoid(pred)).sum()
        loss_neg = -((1 - label) * valid * F.logsigmoid(-pred)).sum()
        loss = (w * loss_pos + (1 - w) * loss_neg) / num_valid
        return self.loss_weight * loss


@MODELS.register_module()
class MaskedL1Loss(_DenseLoss):
    """L1 over labelled elements (depth, or any real-valued map).

    ``pred`` and ``target``: (N, C, H, W); ignored elements hold
    ``ignore_index``.
    """

    def __init__(self, loss_weight: float = 1.0,
                 ignore_index: int = IGNORE_INDEX,
                 loss_name: str = 'loss_l1') -> None:
        super().__init__(loss_weight, ignore_index, loss_name)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        valid = target != self.ignore_index
        if not valid.any():
            return zero_loss(pred)
        return self.loss_weight * masked_l1(self.prepare(pred), target, valid)

    def prepare(self, pred: Tensor) -> Tensor:
        """The prediction as compared with the target."""
        return pred


@MODELS.register_module()
class NormalsL1Loss(MaskedL1Loss):
    """:class:`MaskedL1Loss` of the L2-normalised prediction (unit vectors,
    (N, 3, H, W)); ignored pixels hold ``ignore_index`` in every channel.
    """

    def prepare(self, pred: Tensor) -> Tensor:
        return F.normalize(pred, p=2, dim=1)
