"""MTI-Net's multi-scale task interaction neck (Vandenhende et al., ECCV
2020)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from mmsquad.registry import MODELS
from ..layers import (FeaturePropagation, ResidualDecoder, TaskDistillation,
                      upsample_like)
from .base_interaction_neck import BaseTaskInteractionNeck, Intermediate


@MODELS.register_module()
class MTINetNeck(BaseTaskInteractionNeck):
    """Predict every intermediate task at every scale, coarsest first,
    propagating features across tasks to the next finer scale; distill at
    every scale.

    At scale ``s`` every intermediate task refines the backbone level
    (concatenated, below the coarsest scale, with its propagated features
    of scale ``s + 1`` upsampled) with two BasicBlocks to the level's
    width and predicts from them with a 1x1 conv (level ``scale_<s>``); a
    :class:`~mmsquad.models.layers.FeaturePropagation` of the refined
    features feeds the next scale. Every head's task receives its
    distilled features (:class:`~mmsquad.models.layers.TaskDistillation`)
    at every scale, finest first, for an HRNet head that concatenates them
    (mmseg's ``FCNHead`` with ``input_transform='resize_concat'``).

    Example:
        >>> neck = dict(type='MTINetNeck')  # the model fills in the rest

    Args:
        tasks: The heads' tasks (filled in by the model).
        intermediate_channels: Output channels of the intermediate tasks
            (filled in by the model).
        in_channels: Channels of the backbone levels, finest first (filled
            in by the model).
        in_strides: Strides of the backbone levels (filled in by the
            model).
        norm_cfg: Norm layer config.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 intermediate_channels: Dict[str, int],
                 in_channels: Sequence[int],
                 in_strides: Optional[Sequence[int]] = None,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(tasks, intermediate_channels, in_channels,
                         in_strides, init_cfg)
        widths = self.in_channels
        coarsest = len(widths) - 1
        self.initial = nn.ModuleList(
            nn.ModuleDict({
                t: ResidualDecoder(
                    c + (widths[s + 1] if s < coarsest else 0), c, out,
                    'BasicBlock', 2, norm_cfg)
                for t, out in self.intermediate_channels.items()})
            for s, c in enumerate(widths))
        self.propagation = nn.ModuleList(
            FeaturePropagation(self.intermediate_tasks, c, norm_cfg)
            for c in widths[1:])
        self.distillation = nn.ModuleList(
            TaskDistillation(self.tasks, self.intermediate_tasks, c)
            for c in widths)

    @property
    def out_channels(self) -> Dict[str, Tuple[int, ...]]:
        """Every scale's width, per task."""
        return {t: self.in_channels for t in self.tasks}

    @property
    def out_strides(self) -> Optional[Tuple[int, ...]]:
        """The backbone's: every scale is refined at its own."""
        return self.in_strides

    def forward(self, feats: Sequence[Tensor]
                ) -> Tuple[Dict[str, Tuple[Tensor, ...]], Intermediate]:
        intermediate: Intermediate = {t: {} for t in self.intermediate_tasks}
        refined: List[Dict[str, Tensor]] = [{} for _ in feats]
        propagated: Dict[str, Tensor] = {}
        for s in reversed(range(len(feats))):
            for task, decoder in self.initial[s].items():
                x = feats[s] if not propagated else torch.cat(
                    [feats[s], upsample_like(propagated[task], feats[s])],
                    dim=1)
                refined[s][task], intermediate[task][f'scale_{s}'] = \
                    decoder(x)
            if s > 0:
                propagated = self.propagation[s - 1](refined[s])
        distilled = [d(r) for d, r in zip(self.distillation, refined)]
        return ({t: tuple(d[t] for d in distilled) for t in self.tasks},
                intermediate)

    def task_specific_modules(self) -> List[nn.Module]:
        """Every distillation unit, every prediction conv, and the finest
        scale's refinement of a task no other head's task distills from
        (coarser ones feed the propagation, which every task uses)."""
        own = [u for d in self.distillation for u in d.units.values()]
        own += [d.conv_out for scale in self.initial for d in scale.values()]
        own += [self.initial[0][t] for t in self.intermediate_tasks
                if not [u for u in self.tasks if u != t]]
        return own
