"""Channel shuffle as an index permutation."""
import torch
from torch import Tensor


def shuffle_permutation(num_channels: int, groups: int) -> Tensor:
    """Indices ``p`` such that ``x[:, p]`` is the ShuffleNet channel shuffle
    of ``x`` in ``groups`` groups: output channel ``k * groups + g`` is
    input channel ``g * (num_channels // groups) + k``."""
    if num_channels % groups:
        raise ValueError(
            f'{num_channels} channels cannot be shuffled in {groups} groups')
    return torch.arange(num_channels).reshape(groups, -1).t().reshape(-1)
