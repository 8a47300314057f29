"""Convolution + normalisation + activation with foldable extras."""
import functools
from typing import Optional, Tuple

import torch
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .eager import runs_eagerly
from .memory_format import in_dense_order

#: Activations that treat every element alike, so that they may run on any
#: view of their input (see :func:`in_dense_order`).
ELEMENTWISE_ACTIVATIONS = (nn.GELU, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU,
                           nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid,
                           nn.Tanh, nn.Mish)


def activate(act: Optional[nn.Module], x: Tensor) -> Tensor:
    """``act(x)`` (``x`` for no activation); an element-wise activation runs
    on the view of ``x`` that reaches torch's fastest kernels
    (:func:`in_dense_order`)."""
    if act is None:
        return x
    if type(act) in ELEMENTWISE_ACTIVATIONS:
        return in_dense_order(act, x)
    return act(x)


def _onednn_post_op(act: Optional[nn.Module]) -> Optional[Tuple[str, str]]:
    """The oneDNN post-op (attribute, algorithm) of
    ``torch.ops.mkldnn._convolution_pointwise`` computing ``act``, or None
    when oneDNN has no exact equivalent."""
    if act is None:
        return 'none', ''
    if type(act) is nn.GELU and act.approximate == 'none':
        return 'gelu', 'none'
    if type(act) is nn.ReLU:
        return 'relu', ''
    return None


def fused_conv_applies(x: Tensor, weight: Tensor) -> bool:
    """Whether a folded convolution may run fused with its activation.

    The fused oneDNN kernel has no autograd and no exporter mapping, so it
    serves only plain CPU inference in float32, or in bfloat16 where the CPU
    supports it, with input and weight of one dtype; tracing, export,
    compilation, autocast and gradient recording get the standard operators.
    """
    return (x.device.type == 'cpu' and x.dtype == weight.dtype
            and x.dtype in _onednn_pointwise_dtypes()
            and not torch.is_grad_enabled()
            and not torch.is_autocast_enabled('cpu') and runs_eagerly())


@functools.lru_cache(maxsize=None)
def _onednn_pointwise_dtypes() -> Tuple[torch.dtype, ...]:
    """The dtypes this torch build and CPU run the fused oneDNN convolution
    in (none without oneDNN)."""
    if not torch.backends.mkldnn.is_available():
        return ()
    try:
        torch.ops.mkldnn._convolution_pointwise
    except (AttributeError, RuntimeError):
        return ()
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.float32, torch.bfloat16
    return torch.float32,


class PermutedInputConv2d(nn.Conv2d):
    """A bias-free 1x1 convolution of a channel-permuted input: computes
    ``conv(x[:, p])`` from ``x`` without moving any activation, the
    permutation folded into the weight at every call (the stored weight
    keeps the layout of the plain form, so checkpoints are the same).

    The weight is applied inside this module's own ``forward``, so module
    hooks (torchjd's ``autogram``, hook-based FLOP counters) see the
    convolution as they see an ``nn.Conv2d``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        input_permutation: Indices ``p`` of the permuted input.
        stride: Stride.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 input_permutation: Tensor, stride: int = 1) -> None:
        super().__init__(in_channels, out_channels, 1, stride, bias=False)
        # The conv sees x[:, p]; its weight on input m is W[:, p^-1[m]].
        self.register_buffer('weight_index',
                             torch.argsort(input_permutation),
                             persistent=False)

    def applied_weight(self) -> Tensor:
        """The weight applied to the unpermuted input.

        Its gradient comes back in the stored weight's strides, as
        DistributedDataParallel's gradient buckets expect: a 1x1 weight
        with channels-last strides is selected through its NHWC view (the
        gradient of a plain ``index_select`` has the default strides, the
        same memory, and DDP warns at every run that they differ).
        """
        weight = self.weight
        if weight.stride()[2:] != (1, 1):  # channels-last strides
            return weight.permute(0, 2, 3, 1).index_select(
                3, self.weight_index).permute(0, 3, 1, 2)
        return weight.index_select(1, self.weight_index)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.applied_weight(), self.bias)


class ConvNormAct(nn.Module):
    """A bias-free convolution, a norm layer and an optional activation.

    The convolution may consume a channel-permuted input (a channel shuffle
    in front of it) without moving any activation: a
    :class:`PermutedInputConv2d`, whose stored weight keeps the layout of
    the plain ``conv(shuffle(x))`` form. :meth:`folded` gives the
    inference form, a :class:`FoldedConvAct`.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel size.
        stride: Stride.
        dilation: Dilation.
        groups: Convolution groups.
        norm_cfg: Norm layer config (mmcv ``build_norm_layer``).
        act_cfg: Activation config, or None for none.
        input_permutation: Indices ``p``: the layer computes
            ``conv(x[:, p])``. Only for ungrouped 1x1 convolutions.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 stride: int = 1,
                 dilation: int = 1,
                 groups: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='GELU'),
                 input_permutation: Optional[Tensor] = None) -> None:
        super().__init__()
        if input_permutation is None:
            padding = dilation * (kernel_size - 1) // 2
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size,
                                  stride, padding, dilation, groups,
                                  bias=False)
        elif groups != 1 or kernel_size != 1:
            raise ValueError('an input permutation folds only into an '
                             'ungrouped 1x1 convolution')
        else:
            self.conv = PermutedInputConv2d(in_channels, out_channels,
                                            input_permutation, stride)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = build_activation_layer(act_cfg) if act_cfg else None

    def conv_weight(self) -> Tensor:
        """The weight applied to the unpermuted input."""
        if isinstance(self.conv, PermutedInputConv2d):
            return self.conv.applied_weight()
        return self.conv.weight

    def forward(self, x: Tensor) -> Tensor:
        return activate(self.act, self.norm(self.conv(x)))

    @torch.no_grad()
    def folded(self) -> 'FoldedConvAct':
        """The inference form: the permutation and a BatchNorm folded into
        one biased convolution, followed by the activation. Its outputs
        equal this layer's eval-mode outputs.

        Raises:
            TypeError: For a norm layer that is not a BatchNorm.
        """
        weight = self.conv_weight()
        bias = torch.zeros(weight.shape[0], device=weight.device,
                           dtype=weight.dtype)
        norm = self.norm
        if isinstance(norm, _BatchNorm):
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            bias = norm.bias - norm.running_mean * scale
            weight = weight * scale.reshape(-1, 1, 1, 1)
        elif not isinstance(norm, nn.Identity):
            raise TypeError(f'cannot fold {type(norm).__name__} into a '
                            'convolution')
        conv = self.conv
        fused = nn.Conv2d(conv.in_channels, conv.out_channels,
                          conv.kernel_size, conv.stride, conv.padding,
                          conv.dilation, conv.groups, bias=True).to(weight)
        fused.weight.copy_(weight)
        fused.bias.copy_(bias if conv.bias is None else bias + conv.bias)
        return FoldedConvAct(fused, self.act).train(self.training)


class FoldedConvAct(nn.Module):
    """A biased convolution and an optional activation: the inference form
    of :class:`ConvNormAct`. On CPU, in plain inference, the two run as one
    oneDNN primitive (see :func:`fused_conv_applies`).

    Args:
        conv: The convolution.
        act: The activation, or None.
    """

    def __init__(self, conv: nn.Conv2d, act: Optional[nn.Module]) -> None:
        super().__init__()
        self.conv = conv
        self.act = act
        self.onednn_post_op = _onednn_post_op(act)

    def forward(self, x: Tensor) -> Tensor:
        conv = self.conv
        if self.onednn_post_op is not None and fused_conv_applies(
                x, conv.weight):
            attr, algorithm = self.onednn_post_op
            return torch.ops.mkldnn._convolution_pointwise(
                x, conv.weight, conv.bias, conv.padding, conv.stride,
                conv.dilation, conv.groups, attr, [None], algorithm)
        return activate(self.act, conv(x))
