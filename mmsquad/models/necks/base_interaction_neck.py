"""The interface of necks that make intermediate task predictions."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

#: ``{task: {level: logits}}``: a neck's intermediate predictions.
Intermediate = Dict[str, Dict[str, Tensor]]


class BaseTaskInteractionNeck(BaseModule):
    """A neck that predicts tasks from shared features, lets the tasks'
    features interact, and gives every task its refined features (PAD-Net,
    MTI-Net).

    Its forward returns ``(features, intermediate)``: ``{task: levels}``
    for the model's heads, and ``{task: {level: logits}}`` for every
    *intermediate task* (the heads' tasks and the model's auxiliary
    tasks), which :class:`~mmsquad.models.MultiTaskModel` supervises with
    the task's loss at the target size (deep supervision). The model fills
    in ``tasks``, ``intermediate_channels`` (every intermediate task's
    output channels, from its kind), ``in_channels`` and ``in_strides``
    (the backbone's); the neck advertises its ``out_channels`` and
    ``out_strides`` to the heads.

    Args:
        tasks: The heads' tasks.
        intermediate_channels: ``{task: output channels}`` of the
            intermediate tasks, which include ``tasks``.
        in_channels: Channels of every backbone level.
        in_strides: Strides of every backbone level (None: unknown, and
            so are the neck's ``out_strides``).
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 intermediate_channels: Dict[str, int],
                 in_channels: Sequence[int],
                 in_strides: Optional[Sequence[int]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tasks = list(tasks)
        self.intermediate_tasks = list(intermediate_channels)
        missing = [t for t in self.tasks if t not in intermediate_channels]
        if missing:
            raise ValueError(f'{type(self).__name__}: the intermediate tasks '
                             f'{self.intermediate_tasks} must include every '
                             f'head\'s task; {missing} are missing')
        self.intermediate_channels = dict(intermediate_channels)
        self.in_channels = tuple(in_channels)
        self.in_strides = None if in_strides is None else tuple(in_strides)

    def forward(self, feats: Sequence[Tensor]
                ) -> Tuple[Dict[str, Tuple[Tensor, ...]], Intermediate]:
        """``({task: levels}, {task: {level: logits}})``."""
        raise NotImplementedError

    def task_specific_modules(self) -> List[nn.Module]:
        """The modules only one task's loss reaches."""
        raise NotImplementedError

    def shared_parameters(self) -> List[nn.Parameter]:
        """The parameters more than one task's loss reaches: all but those
        of :meth:`task_specific_modules`."""
        own = {id(p) for m in self.task_specific_modules()
               for p in m.parameters()}
        return [p for p in self.parameters() if id(p) not in own]
