"""The interface of multi-task encoders: image -> features of every task."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import nn

from ..backbones.resnet_stages import probe_stages, stage_names


class BaseMultiTaskEncoder(BaseModule):
    """An encoder that gives every task its own features by acting between
    the stages of a ResNet-family backbone (Cross-Stitch, NDDR-CNN, MTAN).

    :class:`~mmsquad.models.MultiTaskModel` hands an encoder (given as its
    ``backbone``) the task names, and its heads the channels and strides
    the encoder advertises. Subclasses build their backbone(s), call
    :meth:`_read_stages` on one of them, and declare which parameters more
    than one task's loss reaches (:meth:`shared_parameters`).

    Args:
        tasks: Task names.
        out_stages: The stages whose (task) outputs the heads receive, in
            order; a stage name as :func:`stage_names` gives it.
        init_cfg: Initialisation config.
    """

    def __init__(self, tasks: Sequence[str], out_stages: Sequence[str],
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tasks = list(tasks)
        if len(self.tasks) < 2:
            raise ValueError(f'{type(self).__name__} mixes tasks and needs at '
                             f'least two; got {self.tasks}')
        self.out_stages = list(out_stages)

    def _read_stages(self, backbone: nn.Module) -> None:
        """Record the stage names of ``backbone`` and the channels and
        strides of their outputs (measured once on a small input), and
        check ``out_stages`` against them."""
        self.stages = stage_names(backbone)
        channels, strides = probe_stages(backbone)
        self.stage_channels = dict(zip(self.stages, channels))
        self.stage_strides = dict(zip(self.stages, strides))
        self.check_stages(self.out_stages, 'out_stages')

    def check_stages(self, names: Sequence[str], key: str) -> None:
        """Raise a ``ValueError`` naming ``key`` when ``names`` are not
        stages of the backbone."""
        unknown = [n for n in names if n not in self.stages]
        if unknown:
            raise ValueError(f'{type(self).__name__}: {key} {unknown} are not '
                             f'stages of the backbone {self.stages}')

    @property
    def out_channels(self) -> Dict[str, Tuple[int, ...]]:
        """Channels of every task's features, per output stage."""
        channels = tuple(self.stage_channels[s] for s in self.out_stages)
        return {t: channels for t in self.tasks}

    @property
    def out_strides(self) -> Tuple[int, ...]:
        """Strides of the output stages."""
        return tuple(self.stage_strides[s] for s in self.out_stages)

    def shared_parameters(self) -> List[nn.Parameter]:
        """The parameters more than one task's loss reaches."""
        raise NotImplementedError
