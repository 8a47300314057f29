"""Channel shuffle, as a tensor op and as an index permutation."""
import torch
from torch import Tensor


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet channel shuffle of an NCHW tensor.

    Args:
        x: Input of shape (N, C, H, W), C divisible by ``groups``.
        groups: Number of channel groups.

    Returns:
        The shuffled tensor: output channel ``k * groups + g`` is input
        channel ``g * (C // groups) + k``.
    """
    n, c, h, w = x.shape
    if c % groups:
        raise ValueError(f'{c} channels cannot be shuffled in {groups} groups')
    x = x.reshape(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)


def shuffle_permutation(num_channels: int, groups: int) -> Tensor:
    """Indices ``p`` with ``channel_shuffle(x, groups) == x[:, p]``."""
    if num_channels % groups:
        raise ValueError(
            f'{num_channels} channels cannot be shuffled in {groups} groups')
    return torch.arange(num_channels).reshape(groups, -1).t().reshape(-1)
