"""Conversion of a trained model into its inference form."""
import torch
from mmcv.cnn import fuse_conv_bn
from torch import nn

from .layers import ConvNormAct


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm into the convolution before it, and every
    folded channel shuffle into its convolution's weight, in place (each
    :class:`ConvNormAct` is replaced by its :class:`FoldedConvAct`).

    The result is for inference only: its outputs equal those of ``model``
    in eval mode.

    Args:
        model: A model (or any module tree) with mmsquad layers, mmcv
            ``ConvModule`` s or plain conv/BN pairs.

    Returns:
        The same ``model``, folded and in eval mode.
    """
    model.eval()
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, ConvNormAct):
                setattr(parent, name, child.folded())
    return fuse_conv_bn(model)
