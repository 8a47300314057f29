"""The model a runner's wrappers hold."""
from mmengine.model import BaseTTAModel, is_model_wrapper
from torch import nn


def inner_model(model: nn.Module) -> nn.Module:
    """The model inside mmengine's distributed wrappers and a test-time
    augmentation wrapper (``tools/test.py --tta``), as mmengine's
    checkpoint loading sees through both; ``model`` itself otherwise."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model
