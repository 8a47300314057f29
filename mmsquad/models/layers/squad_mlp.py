"""The expert and point-wise aggregation units of an expert squad."""
from typing import Optional

import torch
from torch import Tensor, nn

from .conv_norm_act import ConvNormAct


class SquadMLP(nn.Module):
    """1x1 conv - BN - act, 3x3 depthwise - BN, 1x1 conv - BN - act.

    With ``groups=1`` this is the point-wise aggregation over all channels;
    with ``groups=T`` it runs T independent experts of equal shape as grouped
    convolutions (see :class:`GroupedExperts`).

    Args:
        channels: Input and output channels.
        hidden_channels: Channels of the middle (depthwise) layer.
        groups: Independent groups of the two 1x1 convolutions.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
        input_permutation: A channel permutation in front of the unit
            (a channel shuffle), folded into its first convolution.
    """

    def __init__(self,
                 channels: int,
                 hidden_channels: int,
                 groups: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 input_permutation: Optional[Tensor] = None) -> None:
        super().__init__()
        self.pw1 = ConvNormAct(channels, hidden_channels, 1, groups=groups,
                               norm_cfg=norm_cfg, act_cfg=act_cfg,
                               input_permutation=input_permutation)
        self.dw = ConvNormAct(hidden_channels, hidden_channels, 3,
                              groups=hidden_channels, norm_cfg=norm_cfg,
                              act_cfg=None)
        self.pw2 = ConvNormAct(hidden_channels, channels, 1, groups=groups,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.pw2(self.dw(self.pw1(x)))


class GroupedExperts(SquadMLP):
    """``num_experts`` experts of ``channels`` each, run as one grouped unit.

    The input holds the experts' channel groups side by side; expert ``t``
    sees channels ``[t * channels, (t + 1) * channels)`` only.

    Checkpoints do not depend on the fusion: ``state_dict`` stores every
    expert under its own index (``<prefix>.<t>.pw1.conv.weight``, ...), the
    layout of a plain ``nn.ModuleList`` of :class:`SquadMLP` experts, and
    ``load_state_dict`` reads that layout back. ``state_dict(keep_vars=True)``
    (asked for by tracers and exporters, which need the live parameters)
    keeps the fused entries.

    Args:
        channels: Channels of one expert.
        hidden_channels: Hidden channels of one expert.
        num_experts: Number of experts.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
    """

    def __init__(self,
                 channels: int,
                 hidden_channels: int,
                 num_experts: int,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__(channels * num_experts,
                         hidden_channels * num_experts, groups=num_experts,
                         norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.num_experts = num_experts
        self._register_state_dict_hook(_split_experts)
        self._register_load_state_dict_pre_hook(
            _merge_experts, with_module=True)


def _split_experts(module: GroupedExperts, state_dict: dict, prefix: str,
                   local_metadata: dict) -> None:
    """Rewrite fused entries as per-expert entries (a state-dict hook)."""
    fused_keys = [k for k in state_dict
                  if k.startswith(prefix) and '.' in k[len(prefix):]
                  and not k[len(prefix):].split('.')[0].isdigit()]
    if any(isinstance(state_dict[k], nn.Parameter) for k in fused_keys):
        return  # keep_vars=True: hand out the live parameters unsplit
    for key in fused_keys:
        name = key[len(prefix):]
        value = state_dict.pop(key)
        for t in range(module.num_experts):
            state_dict[f'{prefix}{t}.{name}'] = _expert_slice(
                value, t, module.num_experts)


def _merge_experts(module: GroupedExperts, state_dict: dict, prefix: str,
                   local_metadata: dict, strict: bool, missing_keys: list,
                   unexpected_keys: list, error_msgs: list) -> None:
    """Rewrite per-expert entries as fused entries (a load pre-hook)."""
    names = {k[len(prefix):].split('.', 1)[1] for k in list(state_dict)
             if k.startswith(prefix)
             and k[len(prefix):].split('.', 1)[0].isdigit()}
    for name in names:
        keys = [f'{prefix}{t}.{name}' for t in range(module.num_experts)]
        if not all(k in state_dict for k in keys):
            continue  # reported as missing by the regular loading
        parts = [state_dict.pop(k) for k in keys]
        state_dict[prefix + name] = (
            parts[0] if parts[0].dim() == 0 else torch.cat(parts, 0))


def _expert_slice(value: Tensor, index: int, num_experts: int) -> Tensor:
    """Expert ``index``'s share of a fused tensor (scalars are shared)."""
    if value.dim() == 0:
        return value
    return value.chunk(num_experts, 0)[index]
