"""Building a trained multi-task model from its config and checkpoint."""
import os.path as osp
from typing import Optional, Union

from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from mmsquad.registry import MODELS
from mmsquad.utils import register_all_modules
from mmsquad.utils.checkpoint import load_weights
from mmsquad.utils.checkpoint import trust_checkpoint as mark_trusted
from mmsquad.utils.config import read_config


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               allow_partial: bool = False,
               trust_checkpoint: bool = False) -> nn.Module:
    """Build the model of ``config``, load ``checkpoint``, put it in eval.

    Args:
        config: Config file path or a loaded config.
        checkpoint: Checkpoint path; ``None`` keeps the initial weights.
        device: Device to put the model on.
        cfg_options: Overrides for the config, as ``--cfg-options`` gives.
        allow_partial: Load only the checkpoint keys that fit the model;
            by default a checkpoint that does not fit exactly is refused.
        trust_checkpoint: Allow the checkpoint to be fully unpickled (it
            can then run code); see :func:`mmsquad.utils.trust_checkpoint`.

    Returns:
        The model in eval mode, with its config as ``model.cfg``.

    Raises:
        FileNotFoundError: When the config or the checkpoint is missing.
        CheckpointError: When the checkpoint is unreadable, unsafe or does
            not fit the model.
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
        if trust_checkpoint:
            mark_trusted(checkpoint)
        load_weights(model, _load_checkpoint(checkpoint, map_location='cpu'),
                     checkpoint, allow_partial)
    model.cfg = config
    return model.to(device).eval()
