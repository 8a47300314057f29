"""Refuse a checkpoint that does not fit the model before it is loaded."""
from typing import Optional

from mmengine.hooks import Hook

from mmsquad.models.utils import inner_model
from mmsquad.registry import HOOKS
from mmsquad.utils.checkpoint import check_fits


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Check every checkpoint the runner loads against its model.

    mmengine's runner loads ``load_from`` and ``--resume`` checkpoints with
    ``strict=False``: the weights of another model only print warnings, and
    a test then reports plausible-looking numbers. This hook fails instead,
    with a summary of the missing, unexpected and wrongly shaped keys.
    ``tools/test.py`` and ``tools/train.py --resume`` add it.

    Args:
        allow_partial: Load only the keys that fit (at least one must).
        source: How to name the checkpoint in the message.
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_partial: bool = False,
                 source: Optional[str] = None) -> None:
        self.allow_partial = allow_partial
        self.source = source

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Raise :class:`~mmsquad.utils.CheckpointError` on a mismatch."""
        model = inner_model(runner.model)
        check_fits(model, checkpoint.get('state_dict', checkpoint),
                   self.source or 'being loaded', self.allow_partial)
