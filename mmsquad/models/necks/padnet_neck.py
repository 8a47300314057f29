"""PAD-Net's prediction-and-distillation neck (Xu et al., CVPR 2018), as
in the multi-task benchmark of Vandenhende et al. (TPAMI 2021)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmsquad.registry import MODELS
from ..layers import ResidualDecoder, TaskDistillation, concat_levels
from .base_interaction_neck import BaseTaskInteractionNeck, Intermediate


@MODELS.register_module()
class PADNetNeck(BaseTaskInteractionNeck):
    """Fuse the backbone levels, predict every intermediate task, distill.

    The levels are upsampled to the first's resolution, concatenated and
    fused (1x1 conv, norm, ReLU: the published ``HighResolutionFuse``);
    every intermediate task refines them with two Bottlenecks to
    ``channels`` and predicts from them with a 1x1 conv (the ``initial``
    level); every head's task gets its refined features plus, for every
    other intermediate task, a :class:`~mmsquad.models.layers.SpatialAttention`
    of that task's features (multi-modal distillation).

    Example:
        >>> neck = dict(type='PADNetNeck')  # the model fills in the rest

    Args:
        tasks: The heads' tasks (filled in by the model).
        intermediate_channels: Output channels of the intermediate tasks
            (filled in by the model).
        in_channels: Channels of the backbone levels (filled in by the
            model).
        in_strides: Strides of the backbone levels (filled in by the
            model).
        channels: Channels of every task's features.
        norm_cfg: Norm layer config.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 intermediate_channels: Dict[str, int],
                 in_channels: Sequence[int],
                 in_strides: Optional[Sequence[int]] = None,
                 channels: int = 256,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(tasks, intermediate_channels, in_channels,
                         in_strides, init_cfg)
        fused = sum(self.in_channels)
        self.fuse = nn.Sequential(nn.Conv2d(fused, fused, 1),
                                  build_norm_layer(norm_cfg, fused)[1],
                                  nn.ReLU())
        self.initial = nn.ModuleDict({
            t: ResidualDecoder(fused, channels, out, 'Bottleneck', 2,
                               norm_cfg)
            for t, out in self.intermediate_channels.items()})
        self.distillation = TaskDistillation(self.tasks,
                                             self.intermediate_tasks,
                                             channels)
        self.channels = channels

    @property
    def out_channels(self) -> Dict[str, Tuple[int, ...]]:
        """One level of ``channels`` per task."""
        return {t: (self.channels, ) for t in self.tasks}

    @property
    def out_strides(self) -> Optional[Tuple[int, ...]]:
        """The finest backbone level's stride: the levels are fused
        there."""
        return None if self.in_strides is None else self.in_strides[:1]

    def forward(self, feats: Sequence[Tensor]
                ) -> Tuple[Dict[str, Tuple[Tensor, ...]], Intermediate]:
        x = self.fuse(concat_levels(feats))
        refined, intermediate = {}, {}
        for task, decoder in self.initial.items():
            refined[task], logits = decoder(x)
            intermediate[task] = {'initial': logits}
        distilled = self.distillation(refined)
        return {t: (distilled[t], ) for t in self.tasks}, intermediate

    def task_specific_modules(self) -> List[nn.Module]:
        """Every distillation unit, every prediction conv, and the
        refinement of a task no other head's task distills from."""
        own = list(self.distillation.units.values())
        own += [d.conv_out for d in self.initial.values()]
        others = {t: [u for u in self.tasks if u != t]
                  for t in self.intermediate_tasks}
        own += [self.initial[t] for t, users in others.items() if not users]
        return own
