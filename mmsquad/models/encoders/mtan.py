"""Multi-Task Attention Network (Liu et al., CVPR 2019) on a ResNet."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from mmsquad.registry import MODELS
from ..backbones.resnet_stages import STEM, forward_stage
from ..layers import AttentionMask, residual_blocks
from .base_encoder import BaseMultiTaskEncoder


@MODELS.register_module()
class MTANEncoder(BaseMultiTaskEncoder):
    """One shared backbone; at every residual layer each task multiplies
    the layer's output by its own sigmoid mask.

    Task ``t``'s mask at layer ``k`` is an :class:`AttentionMask` of the
    layer's features before its last block, concatenated for ``k > 1``
    with ``t``'s attended features of layer ``k - 1`` after a shared
    refinement (one Bottleneck to layer ``k``'s width) and, where layer
    ``k`` halves the resolution, a 2x max-pool. The heads receive each
    task's attended features (as published, the last layer's).

    Example:
        >>> encoder = dict(type='MTANEncoder', backbone=dict(
        ...     type='mmseg.ResNet', depth=18, strides=(1, 2, 1, 1),
        ...     dilations=(1, 1, 2, 4)))

    Args:
        tasks: Task names (filled in by the model).
        backbone: Config of the shared backbone (ResNet family).
        out_stages: The layers whose attended features the heads receive.
        norm_cfg: Norm layer config of the attention and refinement.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 backbone: dict,
                 out_stages: Sequence[str] = ('layer1', 'layer2', 'layer3',
                                              'layer4'),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(tasks, out_stages, init_cfg)
        self.backbone = MODELS.build(backbone)
        self._read_stages(self.backbone)
        if STEM in self.out_stages:
            raise ValueError('MTANEncoder attends residual layers; the stem '
                             'cannot be an output stage')
        layers = self.stages[1:]
        width = [self.stage_channels[s] for s in layers]
        self.attention = nn.ModuleDict({
            layer: nn.ModuleDict({
                t: AttentionMask(width[k] * (1 if k == 0 else 2), width[k],
                                 norm_cfg)
                for t in self.tasks})
            for k, layer in enumerate(layers)})
        self.refine = nn.ModuleDict({
            layer: residual_blocks(width[k], width[k + 1], 1, 'Bottleneck',
                                   norm_cfg)
            for k, layer in enumerate(layers[:-1])})
        # The pooling the published code applies where the next layer
        # halves the resolution (ceil mode: the strided convolution's size
        # on odd inputs).
        self.pool = nn.ModuleDict({
            layer: nn.MaxPool2d(2, ceil_mode=True)
            if self.stage_strides[layers[k + 1]] > self.stage_strides[layer]
            else nn.Identity()
            for k, layer in enumerate(layers[:-1])})

    def forward(self, x: Tensor) -> Dict[str, Tuple[Tensor, ...]]:
        """``{task: (attended features of every output stage)}``."""
        x = forward_stage(self.backbone, STEM, x)
        previous: Dict[str, Tensor] = {}
        outs: Dict[str, List[Tensor]] = {t: [] for t in self.tasks}
        for k, layer in enumerate(self.stages[1:]):
            *blocks, last = getattr(self.backbone, layer)
            before = x
            for block in blocks:
                before = block(before)
            x = last(before)
            for t in self.tasks:
                source = before if k == 0 else torch.cat(
                    [before, previous[t]], dim=1)
                attended = self.attention[layer][t](source) * x
                if layer in self.out_stages:
                    outs[t].append(attended)
                if layer in self.refine:
                    previous[t] = self.pool[layer](
                        self.refine[layer](attended))
        return {t: tuple(v) for t, v in outs.items()}

    def shared_parameters(self) -> List[nn.Parameter]:
        """The backbone's and the refinement's (the masks are per task)."""
        return list(self.backbone.parameters()) + list(
            self.refine.parameters())
