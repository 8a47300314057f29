"""Building a trained multi-task model from its config and checkpoint."""
import os.path as osp
from typing import Optional, Union

from mmengine.config import Config
from mmengine.runner import load_checkpoint
from torch import nn

from mmsquad.registry import MODELS
from mmsquad.utils import register_all_modules
from mmsquad.utils.tool_setup import read_config


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build the model of ``config``, load ``checkpoint``, put it in eval.

    Args:
        config: Config file path or a loaded config.
        checkpoint: Checkpoint path; ``None`` keeps the initial weights.
        device: Device to put the model on.
        cfg_options: Overrides for the config, as ``--cfg-options`` gives.

    Returns:
        The model in eval mode, with its config as ``model.cfg``.

    Raises:
        FileNotFoundError: When the config or the checkpoint is missing.
    """
    register_all_modules()
    if isinstance(config, str):
        config = read_config(config, cfg_options)
    elif cfg_options:
        config.merge_from_dict(cfg_options)
    model = MODELS.build(config.model)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
        load_checkpoint(model, checkpoint, map_location='cpu')
    model.cfg = config
    return model.to(device).eval()
