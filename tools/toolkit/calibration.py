"""Models whose activations mean something without training, for the
benchmarks' equality and accuracy figures.

A freshly built model with PyTorch's default BatchNorm (weight 1, bias 0,
running statistics 0 and 1) shrinks activations layer after layer: the
backbone's output has a standard deviation of about 1e-6, two different
inputs give outputs 1e-6 apart, and any two implementations "agree" to
that. Calibrated BatchNorm (random affine, running statistics measured on
forward passes) keeps activations of order one, so agreements and
precision errors are measured on outputs that depend on the input.
"""
import logging

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch import nn


def init_weights_quietly(model: BaseModule) -> BaseModule:
    """``model.init_weights()`` (``model`` changed in place, returned)
    without mmengine's report of every parameter's initialisation, which
    it logs at INFO, to the console, where no log file is open: hundreds of
    lines per model in a benchmark's output."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model


def calibrate_batchnorm(model: nn.Module, inputs: torch.Tensor,
                        passes: int = 3, seed: int = 0) -> nn.Module:
    """``model`` (changed in place, returned in eval mode) with every
    BatchNorm's affine drawn at random (weight in [0.5, 1.5], bias
    N(0, 0.1)) and its running statistics the cumulative average over
    ``passes`` forward passes of ``inputs`` plus noise."""
    generator = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for norm in norms:
            if norm.affine:
                norm.weight.copy_(0.5 + torch.rand(
                    norm.weight.shape, generator=generator))
                norm.bias.copy_(0.1 * torch.randn(
                    norm.bias.shape, generator=generator))
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average
        model.train()
        for _ in range(passes):
            noise = 0.1 * torch.randn(inputs.shape, generator=generator)
            model(inputs + noise, mode='tensor')
    return model.eval()


def input_sensitivity(model: nn.Module, first: torch.Tensor,
                      second: torch.Tensor) -> float:
    """The smallest, over the model's outputs, relative difference of the
    outputs for two different inputs (near 0: the outputs do not depend
    on the input, and agreements between implementations prove
    nothing)."""
    with torch.no_grad():
        a, b = model(first, mode='tensor'), model(second, mode='tensor')
    return min(((a[k] - b[k]).norm() / a[k].norm()).item() for k in a)
