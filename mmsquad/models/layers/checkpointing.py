"""Gradient (activation) checkpointing of single layers."""
from torch import Tensor, nn
from torch.utils import checkpoint


def run_layer(layer: nn.Module, x: Tensor, with_cp: bool) -> Tensor:
    """``layer(x)``; with ``with_cp``, through :func:`torch.utils.checkpoint`
    (activations freed after the forward, recomputed in the backward), as
    mmdet's and mmpretrain's backbones do with ``with_cp``.

    Only where ``x`` needs a gradient: a frozen layer or inference keeps
    nothing to free.
    """
    if with_cp and x.requires_grad:
        return checkpoint.checkpoint(layer, x, use_reentrant=False)
    return layer(x)
