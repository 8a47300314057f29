"""Use any decode head of mmseg (or another package) as a task head."""
from typing import List, Optional, Sequence, Union

from torch import Tensor

from mmsquad.registry import MODELS
from .base_dense_head import BaseDenseTaskHead


@MODELS.register_module()
class TaskHeadAdapter(BaseDenseTaskHead):
    """Wrap a module that maps multi-level features to logits.

    Example: ``dict(type='TaskHeadAdapter', task='semseg',
    head=dict(_scope_='mmseg', type='ASPPHead', ...), loss=...)``. Only the
    wrapped head's ``forward`` is used; the task's loss, target handling and
    prediction are mmsquad's, so partially labelled batches work the same.

    Args:
        task: Task name.
        head: Config of the wrapped head; build it in its own scope.
        loss: Loss config(s).
        align_corners: Upsampling ``align_corners``.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 task: str,
                 head: dict,
                 loss: Union[dict, List[dict]],
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(task, loss, align_corners, init_cfg)
        self.head = MODELS.build(head)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        return self.head(list(feats))
