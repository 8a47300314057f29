"""mmseg's losses on mmsquad's dense targets."""
from typing import Optional

from torch import Tensor, nn

from mmsquad.tasks import IGNORE_INDEX, DenseMapTask


class SegLossAdapter(nn.Module):
    """Run an mmseg loss on a task's targets as mmseg's decode heads do.

    mmseg's losses (``CrossEntropyLoss``, ``DiceLoss``, ``LovaszLoss``,
    ``FocalLoss``, ``TverskyLoss``, ...) take label maps as (N, H, W) and
    the ignored label as a call argument (their own default is not 255:
    cross-entropy's is -100); mmsquad's dense targets keep a channel axis,
    (N, 1, H, W), and the task kind knows its ignore value. The dense
    heads wrap every loss built from mmseg's registry in this adapter (see
    :func:`as_task_loss`), so a loss config taken from an mmseg config works
    as it is.

    Args:
        loss: The built mmseg loss.
        ignore_index: The task's ignored target value.
    """

    def __init__(self, loss: nn.Module,
                 ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.loss = loss
        self.ignore_index = ignore_index

    @property
    def loss_name(self) -> str:
        """The wrapped loss's name (its key in the loss dict)."""
        return self.loss.loss_name

    def forward(self, pred: Tensor, target: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """The loss; ``weight`` (N, H, W) weights the pixels (a decode
        head's pixel sampler)."""
        if target.dim() == pred.dim() and target.shape[1] == 1:
            target = target.squeeze(1)
        weighted = {} if weight is None else dict(weight=weight)
        return self.loss(pred, target, ignore_index=self.ignore_index,
                         **weighted)


def as_task_loss(loss: nn.Module, task: DenseMapTask) -> nn.Module:
    """``loss`` as a dense head applies it to ``task``'s targets: an mmseg
    loss in a :class:`SegLossAdapter`, any other unchanged."""
    if type(loss).__module__.startswith('mmseg.'):
        return SegLossAdapter(loss, task.ignore_index)
    return loss
